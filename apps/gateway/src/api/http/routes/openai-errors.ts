import type { AionError } from '@aion/errors';

/** OpenAI's error shape, from Aion's error codes. */
export function openAiError(error: AionError) {
  const status = error.httpStatus;
  const type =
    status === 401
      ? 'authentication_error'
      : status === 403
        ? 'permission_error'
        : status === 404
          ? 'not_found_error'
          : status === 429
            ? 'rate_limit_error'
            : status >= 500
              ? 'api_error'
              : 'invalid_request_error';
  return {
    status,
    body: {
      error: {
        message: error.message,
        type,
        param: error.details?.[0]?.field ?? null,
        code: error.code,
      },
    },
  };
}
