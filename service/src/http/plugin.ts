/**
 * Request-level protections for every route, registered at the root (fastify-plugin): the JSON body parser
 * (duplicate keys refused, body arrival time kept) and Content-Encoding decoding under the body limit.
 * Connection-level limits and the duplicate-Host check run below Fastify, in ./server.
 */
import fp from "fastify-plugin";
import { contentEncodingHook } from "./content-encoding";
import { installJsonBodyParser } from "./json-body";

export interface HttpProtectionOptions {
  /** BODY_LIMIT_BYTES, applied to decoded bodies too. */
  readonly bodyLimitBytes: number;
  /** BODY_MAX_KEYS: bodies with more object keys are refused before they are parsed. */
  readonly bodyMaxKeys: number;
}

export const httpProtectionPlugin = fp<HttpProtectionOptions>(
  async (app, { bodyLimitBytes, bodyMaxKeys }) => {
    installJsonBodyParser(app, { maxKeys: bodyMaxKeys });
    app.addHook("preParsing", contentEncodingHook(bodyLimitBytes));
  },
  { name: "modelport-http-protection" },
);
