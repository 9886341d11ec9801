/**
 * Request-level protections for every route, registered at the root (fastify-plugin): the JSON body parser
 * (duplicate keys refused, body arrival time kept), Content-Encoding decoding under the body limit, and 400 for
 * a request with more than one Host header (Node keeps the first and drops the rest, while a proxy in front may
 * have routed on another: RFC 9112 section 3.2 requires the 400). Connection-level limits live in ./server.
 */
import type { onRequestHookHandler } from "fastify";
import fp from "fastify-plugin";
import { errorBody } from "../errors";
import { contentEncodingHook } from "./content-encoding";
import { installJsonBodyParser } from "./json-body";

export interface HttpProtectionOptions {
  /** BODY_LIMIT_BYTES, applied to decoded bodies too. */
  readonly bodyLimitBytes: number;
}

export const httpProtectionPlugin = fp<HttpProtectionOptions>(
  async (app, { bodyLimitBytes }) => {
    installJsonBodyParser(app);
    app.addHook("preParsing", contentEncodingHook(bodyLimitBytes));
    app.addHook("onRequest", singleHostHeader);
  },
  { name: "modelport-http-protection" },
);

/** A callback hook (every request passes it): a scan of the raw header names, no allocation. */
const singleHostHeader: onRequestHookHandler = (request, reply, done) => {
  const raw = request.raw.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === "host") hosts++;
  }
  if (hosts <= 1) return done();
  void reply.status(400).header("connection", "close").send(errorBody(400, "the request has more than one Host header: send exactly one"));
};
