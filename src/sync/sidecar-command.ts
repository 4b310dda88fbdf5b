// How the devx-sync container starts syncthing. The Secret is mounted read-only (and its files are symlinks into a
// `..data` directory), while syncthing wants a writable home it can migrate config.xml in and keep its index
// database in; so a POSIX sh (busybox in the syncthing/syncthing image) copies the three files into a home on an
// emptyDir at every start, locks the key down and execs syncthing. exec replaces the shell, so syncthing's monitor
// process is the container's main process (PID 1, unless the pod shares one process namespace, where the pause
// process is) and gets the container's SIGTERM; it runs the real syncthing as its child and passes the signal on.
// Both listen on loopback only (config.xml: sync 127.0.0.1:22000, GUI/REST 127.0.0.1:8384), never on the pod IP.
import { SIDECAR_HOME, SIDECAR_SECRET_DIR } from './constants.ts';

/**
 * `syncthing serve` flags accepted by every syncthing from 1.19 (Debian) to 1.27 (the sidecar image) and needed by
 * both ends: no browser; no restarts by syncthing's monitor process (which still runs, with the real syncthing as its
 * child: with --no-restart it exits when its child does, and the container or the agent restarts it); no "Default
 * Folder"; no upgrades. Shared with the agent, which runs the local syncthing the same way.
 */
export const SERVE_FLAGS: readonly string[] = ['--no-browser', '--no-restart', '--no-default-folder', '--no-upgrade'];

/** argv (after the binary) of `syncthing serve` with its home at `home`. */
export function syncthingServeArgs(home: string): string[] {
  return ['serve', `--home=${home}`, ...SERVE_FLAGS];
}

export interface SidecarCommandOptions {
  /** The writable volume for syncthing's state (an emptyDir); default SIDECAR_HOME. */
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

/**
 * Syncthing's home inside the `home` volume. A subdirectory because the volume's root belongs to root (an emptyDir
 * is root-owned, mode 0777) and syncthing chmods its home to 0700 at every start, which only the owner may do;
 * the subdirectory is created by the container's own user.
 */
export function sidecarSyncthingHome(home: string = SIDECAR_HOME): string {
  return `${home}/syncthing`;
}

// Paths arrive as positional parameters ($1 = secret dir, $2 = syncthing's home), so they never need shell quoting.
// umask 077: the home and everything created in it are private to the container's user. The emptyDir outlives
// container restarts (and so does syncthing's index database in it, which spares a full re-hash after a crash), so
// the copies of an earlier start are removed first: cp gives a copy the source's mode minus the umask, and a Secret
// mounted with mode 0400/0444 would leave read-only copies that the next cp could not overwrite.
const SCRIPT = [
  'set -eu',
  'umask 077',
  'mkdir -p "$2"',
  'rm -f "$2/config.xml" "$2/cert.pem" "$2/key.pem"',
  'cp "$1/config.xml" "$2/config.xml"',
  'cp "$1/sidecar-cert.pem" "$2/cert.pem"',
  'cp "$1/sidecar-key.pem" "$2/key.pem"',
  'chmod 600 "$2/config.xml" "$2/cert.pem" "$2/key.pem"',
  `exec syncthing serve --home="$2" ${SERVE_FLAGS.join(' ')}`,
].join('\n');

/**
 * Command, args and env of the `devx-sync` container. Runs as any non-root user (nothing needs root or a capability).
 * Syncthing's home is sidecarSyncthingHome(home).
 *
 * env: the syncthing/syncthing image sets `STGUIADDRESS=0.0.0.0:8384`, which overrides config.xml's GUI address;
 * an empty value switches that override off (syncthing ignores an empty STGUIADDRESS), so the loopback address in
 * config.xml is the one that applies. `HOME` points at the writable volume: the image's HOME (/var/syncthing)
 * belongs to root. (The image's STHOMEDIR is overridden by --home.)
 */
export function sidecarCommand(opts: SidecarCommandOptions = {}): SidecarCommand {
  const home = opts.home ?? SIDECAR_HOME;
  const secretDir = opts.secretDir ?? SIDECAR_SECRET_DIR;
  return {
    command: ['sh', '-c'],
    args: [SCRIPT, 'devx-sync', secretDir, sidecarSyncthingHome(home)],
    env: [
      { name: 'STGUIADDRESS', value: '' },
      { name: 'HOME', value: home },
    ],
  };
}
