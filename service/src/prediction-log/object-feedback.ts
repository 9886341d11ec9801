/**
 * /feedback with the object-storage sink: there is no table to look predictions up in, so labels go to the
 * feedback Parquet stream (the same durability as predictions) and are joined by prediction_id where they are
 * read (the drift job, Athena). This replica remembers its recent predictions (bounded) to place a label in
 * its prediction's model/version partition and to count it in the live feedback metrics; a label for a
 * prediction it does not know (another replica's, or an older one) is stored under the served model and
 * version `_unknown`, answered `accepted`, and not counted live. A second label for the same prediction is a
 * duplicate when this replica saw the first; otherwise readers keep the earliest (received_at).
 */
import { PARQUET_LOG, type PredictionLogEntry, type Task } from "../contract";
import type { FeedbackItem, FeedbackStore, LoggedPrediction } from "./feedback";
import { RecentPredictions } from "./recent-predictions";
import type { PredictionLogWriter } from "./writer";

/** Recent predictions remembered for feedback (about 50 bytes each, outside the JS heap). */
const DEFAULT_CAPACITY = 100_000;

export class ObjectStoreFeedback implements FeedbackStore {
  private readonly recent: RecentPredictions;
  private readonly labelled = new Set<string>();
  private servedModel = "unknown";
  private servedTask: Task = "binary";

  constructor(
    private readonly writer: Pick<PredictionLogWriter, "recordFeedback">,
    private readonly capacity = DEFAULT_CAPACITY,
  ) {
    this.recent = new RecentPredictions(capacity);
  }

  /** Called for every logged prediction (on the request path: no allocation). */
  remember(entry: PredictionLogEntry): void {
    this.servedModel = entry.modelName;
    this.servedTask = entry.task;
    this.recent.add(entry);
  }

  async find(ids: readonly string[]): Promise<Map<string, LoggedPrediction>> {
    const found = new Map<string, LoggedPrediction>();
    for (const id of ids) found.set(id, this.recent.find(id) ?? this.unverified());
    return found;
  }

  async store(items: readonly FeedbackItem[]): Promise<Set<string>> {
    const stored = new Set<string>();
    const receivedAt = new Date();
    for (const item of items) {
      if (this.labelled.has(item.predictionId)) continue;
      const prediction = this.recent.find(item.predictionId) ?? this.unverified();
      this.writer.recordFeedback({ predictionId: item.predictionId, actual: item.actual, receivedAt, model: prediction.model, version: prediction.version });
      this.labelled.add(item.predictionId);
      if (this.labelled.size > this.capacity) this.labelled.delete(this.labelled.values().next().value!);
      stored.add(item.predictionId);
    }
    return stored;
  }

  private unverified(): LoggedPrediction {
    return { model: this.servedModel, version: PARQUET_LOG.unknownVersion, variant: "", task: this.servedTask, label: null, probability: null, value: null, fallback: false, verified: false };
  }
}
