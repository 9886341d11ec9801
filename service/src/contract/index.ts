export * from "./drift";
export * from "./metrics";
export * from "./model-metadata";
export * from "./prediction-log";
export * from "./routes";
export * from "./settings";
export * from "./tasks";
export * from "./promotion";
