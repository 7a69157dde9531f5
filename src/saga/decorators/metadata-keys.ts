export const SAGA_METADATA = 'nest-saga:saga';
export const STEP_METADATA = 'nest-saga:step';
export const COMPENSATE_METADATA = 'nest-saga:compensate';
