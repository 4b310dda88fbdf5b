// devx's version, written into the dev.x/status annotation of injected pods. Kept equal to package.json by a test.
export const VERSION = '0.1.0';
