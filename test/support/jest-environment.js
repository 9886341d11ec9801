// jest runs each test file in its own vm realm, but native addons (onnxruntime-node) create typed arrays in
// Node's main realm; onnxruntime-common's `data instanceof Float32Array` checks then fail inside the sandbox.
// Share the main realm's typed-array constructors with the sandbox so both sides agree.
const { TestEnvironment } = require("jest-environment-node");

const SHARED = [
  "ArrayBuffer", "SharedArrayBuffer", "DataView", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array",
  "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
];

class SharedTypedArrayEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SharedTypedArrayEnvironment;
