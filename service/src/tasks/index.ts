/** Every task's definition, by name: the one place that maps a task to what it means. */
import type { Task } from "../contract";
import { binary } from "./binary";
import { multiclass } from "./multiclass";
import { regression } from "./regression";
import type { TaskDefinition } from "./task";
import { tensor } from "./tensor";

export const TASK_DEFINITIONS: Readonly<Record<Task, TaskDefinition>> = { binary, multiclass, regression, tensor };

export * from "./task";
