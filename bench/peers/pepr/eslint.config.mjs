// What `pepr build` lints the module with (its format check): the TypeScript parser Pepr itself depends on.
import tsParser from "@typescript-eslint/parser";

export default [{ ignores: ["**/node_modules", "**/dist"] }, { files: ["**/*.ts"], languageOptions: { parser: tsParser } }];
