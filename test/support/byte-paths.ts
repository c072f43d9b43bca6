/**
 * The byte paths a test runs on (issue 27): the JavaScript relay always, the native one where the
 * addon is built (Linux with a compiler; `npm ci` builds it). Tests loop over these.
 */
import { chooseBytePath, type NativeBytePath } from '../../node/native/byte-path.js';

export type BytePathName = 'js' | 'native';

/** The native byte path of this process, when it loads. */
export const nativeBytePath = (): NativeBytePath | undefined => {
  const choice = chooseBytePath('auto');
  return choice.kind === 'native' ? choice.path : undefined;
};

/** Which byte paths to run a suite on: js, and native where it loads. */
export const BYTE_PATHS_UNDER_TEST: readonly BytePathName[] = nativeBytePath() === undefined ? ['js'] : ['js', 'native'];
