// Which local syncthing the agent can run, and what to tell a user who has none. Pure.

/** The oldest syncthing whose config format (version 36) devx writes: Debian's 1.19. */
export const MIN_SYNCTHING = [1, 19, 0] as const;

/** `syncthing v1.19.2-ds1 "Fermium Flea" (go1.19.8 linux-amd64) …` → [1, 19, 2]; undefined if unrecognised. */
export function parseSyncthingVersion(output: string): [number, number, number] | undefined {
  const m = /\bsyncthing v(\d+)\.(\d+)\.(\d+)/.exec(output);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function isSupported(version: readonly number[]): boolean {
  for (let i = 0; i < MIN_SYNCTHING.length; i++) {
    const have = version[i] ?? 0;
    const need = MIN_SYNCTHING[i] ?? 0;
    if (have !== need) return have > need;
  }
  return true;
}

/** How to install syncthing on this platform, one line each. */
export function installHint(platform: NodeJS.Platform): string {
  const byPlatform: Partial<Record<NodeJS.Platform, string>> = {
    linux: 'sudo apt install syncthing   (Debian/Ubuntu; Fedora: sudo dnf install syncthing; Arch: sudo pacman -S syncthing)',
    darwin: 'brew install syncthing',
    win32: 'winget install Syncthing.Syncthing   (or scoop install syncthing)',
  };
  const own = byPlatform[platform];
  const any = 'or download it from https://syncthing.net/downloads/ and put it on PATH (or point DEVX_SYNCTHING at it)';
  return own ? `install it: ${own}\n${any}` : `install it: ${any}`;
}
