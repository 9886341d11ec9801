export * from "./drift";
export * from "./metrics";
export * from "./model-metadata";
export * from "./prediction-log";
export * from "./routes";
export * from "./scoring";
export * from "./settings";
export * from "./tasks";
