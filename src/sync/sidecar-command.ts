// How the devx-sync container starts syncthing. The Secret is mounted read-only (and its files are symlinks into a
// `..data` directory), while syncthing wants a writable home it can migrate config.xml in and keep its index
// database in; so a POSIX sh (busybox in the syncthing/syncthing image) copies the three files into the home
// (an emptyDir) on every start, locks the key down and execs syncthing, which then runs as the container's PID 1.
import { SIDECAR_HOME, SIDECAR_SECRET_DIR } from './constants.ts';

/**
 * `syncthing serve` flags accepted by every syncthing from 1.19 (Debian) to 1.27 (the sidecar image) and needed by
 * both ends: no browser, no self-restarting monitor process (the container or the agent restarts it), no "Default
 * Folder", no upgrades. Shared with the agent, which runs the local syncthing the same way.
 */
export const SERVE_FLAGS: readonly string[] = ['--no-browser', '--no-restart', '--no-default-folder', '--no-upgrade'];

/** argv (after the binary) of `syncthing serve` with its home at `home`. */
export function syncthingServeArgs(home: string): string[] {
  return ['serve', `--home=${home}`, ...SERVE_FLAGS];
}

export interface SidecarCommandOptions {
  /** Syncthing's home (writable); default SIDECAR_HOME. */
  home?: string;
  /** The mounted sync Secret (read-only); default SIDECAR_SECRET_DIR. */
  secretDir?: string;
}

/** A container's command, args and env, in the shape of the Kubernetes Container fields. */
export interface SidecarCommand {
  command: string[];
  args: string[];
  env: Array<{ name: string; value: string }>;
}

// Paths arrive as positional parameters ($1 = secret dir, $2 = home), so they never need shell quoting.
// umask 077: everything syncthing or cp creates is private to the container's user; chmod covers files that already
// existed from an earlier start of the container (the emptyDir outlives container restarts).
const SCRIPT = [
  'set -eu',
  'umask 077',
  'cp "$1/config.xml" "$2/config.xml"',
  'cp "$1/sidecar-cert.pem" "$2/cert.pem"',
  'cp "$1/sidecar-key.pem" "$2/key.pem"',
  'chmod 600 "$2/key.pem" "$2/config.xml"',
  `exec syncthing serve --home="$2" ${SERVE_FLAGS.join(' ')}`,
].join('\n');

/**
 * Command, args and env of the `devx-sync` container. Runs as any non-root user (nothing needs root or a capability).
 *
 * env: the syncthing/syncthing image sets `STGUIADDRESS=0.0.0.0:8384`, which overrides config.xml's GUI address;
 * an empty value switches that override off (syncthing ignores an empty STGUIADDRESS), so the loopback address in
 * config.xml is the one that applies. `HOME` points at the writable home: the image's HOME (/var/syncthing) belongs
 * to root. (The image's STHOMEDIR is overridden by --home.)
 */
export function sidecarCommand(opts: SidecarCommandOptions = {}): SidecarCommand {
  const home = opts.home ?? SIDECAR_HOME;
  const secretDir = opts.secretDir ?? SIDECAR_SECRET_DIR;
  return {
    command: ['sh', '-c'],
    args: [SCRIPT, 'devx-sync', secretDir, home],
    env: [
      { name: 'STGUIADDRESS', value: '' },
      { name: 'HOME', value: home },
    ],
  };
}
