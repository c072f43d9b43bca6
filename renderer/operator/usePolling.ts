import { useCallback, useEffect, useState } from 'react';
import { OperatorApiError } from './api.js';

/** Loads `load` now and every `everyMs`; the last error is kept beside the last good data. */
export const usePolling = <T,>(load: () => Promise<T>, everyMs: number): { data: T | undefined; error: OperatorApiError | undefined; reload: () => Promise<void> } => {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<OperatorApiError>();
  const reload = useCallback(async () => {
    try {
      setData(await load());
      setError(undefined);
    } catch (err) {
      setError(err instanceof OperatorApiError ? err : new OperatorApiError('PINHOLE_INTERNAL', String(err), 0));
    }
  }, [load]);
  useEffect(() => {
    void reload();
    const timer = setInterval(() => void reload(), everyMs);
    return () => clearInterval(timer);
  }, [reload, everyMs]);
  return { data, error, reload };
};
