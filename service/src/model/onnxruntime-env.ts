/**
 * Import this before onnxruntime-node (imports run in source order). onnxruntime-node's Linux build ships
 * Microsoft's 1DS telemetry: an event database under $HOME/.cache, /tmp/mat-debug-<pid>.log files and uploads to
 * mobile.events.data.microsoft.com. A serving image makes no calls home and writes nothing outside its volumes,
 * so telemetry is off unless the operator sets ORT_DISABLE_TELEMETRY explicitly. The native library reads the
 * variable when it loads, which is why this must come first.
 */
process.env.ORT_DISABLE_TELEMETRY ??= "1";
