/** The object-storage sink's encoder thread (parquet-encoder.ts): one roll at a time, journal lines in, Parquet files out. */
import { parentPort } from "node:worker_threads";
import type { EncoderRequest } from "./parquet-encoder";
import { RollBuilder } from "./parquet-roll";
import { replyOf } from "./worker-client";

let roll: RollBuilder | undefined;

parentPort!.on("message", (request: EncoderRequest) => {
  if (request.kind === "begin") {
    roll = new RollBuilder(request.options);
    return;
  }
  void replyOf(() => {
    if (!roll) throw new Error("no roll begun");
    if (request.kind === "take") return roll.take(request.data, request.columns, request.last);
    const finished = roll.finish();
    roll = undefined;
    return finished;
  }).then((reply) => {
    const files = reply.ok && "files" in reply.value ? reply.value.files : [];
    parentPort!.postMessage(reply, files.map((f) => f.body.buffer as ArrayBuffer));
  });
});
