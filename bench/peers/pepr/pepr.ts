// The Pepr module of the bench's Pepr peer (bench/peers.ts): one capability, started as `pepr dev` starts a module.
// The only departure from Pepr's template: the port comes from the environment (the template's default is 3000,
// which another process on the bench's machine may hold), so the start is deferred, and skipped when `pepr build`
// loads the module only to read its capabilities.
import { PeprModule } from "pepr";
import cfg from "./package.json";
import { DevX } from "./capabilities/devx";

const module = new PeprModule(cfg, [DevX], { deferStart: true });
if (process.env.PEPR_MODE !== "build")
  module.start(Number(process.env.DEVX_BENCH_PEPR_PORT ?? 3000));
