// Fixed names and numbers of the devx-sync sidecar. The pod spec (webhook), the Secret (reconciler) and the agent all
// read them from here, so a path in the container and the config that points at it cannot drift apart.

/** Where the shared source directory (volume `devx-workdir`) is mounted in the sidecar; the synced folder's path. */
export const SIDECAR_WORKDIR = '/devx/workdir';

/** Syncthing's home in the sidecar (volume `devx-sync-home`, an emptyDir): config, keys and index database. */
export const SIDECAR_HOME = '/devx/home';

/** Where the sync Secret (volume `devx-sync-secret`) is mounted, read-only; copied into the home at start. */
export const SIDECAR_SECRET_DIR = '/devx/secret';

/** Syncthing's sync protocol port in the pod, bound to 127.0.0.1: reached only through `pods/portforward`, not through
 * the pod IP (and no Service exposes it). */
export const SYNC_PORT = 22000;

/** Syncthing's GUI/REST port; bound to 127.0.0.1 in the pod and guarded by the API key. */
export const GUI_PORT = 8384;

/** The id of the one synced folder, the same on both ends (syncthing pairs folders by id, not by path). */
export const FOLDER_ID = 'devx';
