/**
 * System services performed by the kernel for capsules (http egress; fs, kv, clock and
 * random live in the sandbox's host services for now) and the kernel's secret store. One way in.
 */
export {
  performHttp,
  systemResolver,
  DEFAULT_HTTP_LIMITS,
  HTTP_REQUEST_TOPIC,
  HTTP_RESPONSE_TOPIC,
  type HttpDeps,
  type HttpLimits,
  type HttpOutcome,
  type HttpCode,
  type Resolver,
} from './http.js';
export {serveHttpRequest, serveFsWrite, httpResponse, FS_WRITE_TOPIC, FS_WRITE_RESULT_TOPIC, type ServeWho, type ServiceSend} from './serve.js';
export {SecretStore, checkSecretName, checkSecretHosts, SECRET_NAME_RE, MAX_SECRET_BYTES, MAX_SECRET_HOSTS, type Secret, type SecretSource} from './secrets.js';
