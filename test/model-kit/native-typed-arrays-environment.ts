/**
 * Jest's node environment gives each test file its own realm, so typed arrays that onnxruntime-node creates
 * natively (an int64 `label` output is a BigInt64Array from the main realm) fail onnxruntime-common's
 * `instanceof` check. Test files that read int64 outputs opt in with `@jest-environment` and this file.
 */
import { TestEnvironment } from "jest-environment-node";

export default class NativeTypedArraysEnvironment extends TestEnvironment {
  override async setup(): Promise<void> {
    await super.setup();
    Object.assign(this.global, { BigInt64Array, BigUint64Array, Float32Array, Float64Array, Int32Array, Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array });
  }
}
