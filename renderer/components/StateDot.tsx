import type { EngineState } from '../../shared/engine-api.js';

export const StateDot = ({ state }: { state: EngineState }) => <span className={`state-dot state-${state}`} aria-hidden="true" />;
