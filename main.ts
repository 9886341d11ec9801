/** Synthesizes every stack of every environment into cdktf.out/ (offline, no cloud credentials needed). */
import { App } from "cdktf";
import { buildStacks, ENVIRONMENTS } from "./stacks";

const app = new App();
buildStacks(app, Object.values(ENVIRONMENTS));
app.synth();
