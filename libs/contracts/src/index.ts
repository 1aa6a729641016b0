// Messages and service descriptors generated from proto/aion/v1 (see buf.gen.yaml).
export * from './gen/aion/v1/common_pb';
export * from './gen/aion/v1/events_pb';
export * from './gen/aion/v1/modules_pb';
export * from './gen/aion/v1/observability_pb';
export * from './gen/aion/v1/orchestrator_pb';
export * from './gen/aion/v1/pipeline_pb';
export * from './gen/aion/v1/sovereign_pb';
export * from './gen/aion/v1/task_orchestrator_pb';
export * from './gen/aion/v1/tasks_pb';
export * from './enums';
