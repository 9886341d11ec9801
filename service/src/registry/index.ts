export { DOWNLOAD_MANIFEST_FILE } from "./model-cache";
export { ModelSourceError, type ModelSourceErrorCode } from "./errors";
export { createModelSource, type ModelSource, type ModelSourceOptions, type ResolvedModelVersion } from "./model-source";
export { formatModelUri, MODEL_STAGES, ModelUriError, parseModelUri, type ModelStage, type ModelUri } from "./model-uri";
