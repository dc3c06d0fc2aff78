/**
 * The typed bus on RxJS: the routing index (one trie, one matcher semantics shared with
 * src/topics), TypeBox schemas for kernel topics, interceptors by priority, quotas with
 * back-pressure, request/reply, and "a ledger entry before delivery". One way in.
 */
export {Bus, DEFAULT_QUOTAS, MAX_MESSAGE_BYTES, type BusMessage, type BusOptions, type PublishInput, type Published, type Interceptor, type InterceptVerdict, type QuotaLimits} from './bus.js';
export {RoutingIndex} from './router.js';
export {checkPayload, KERNEL_TOPICS, KERNEL_PREFIXES, MAX_FS_WRITE_BYTES, FsWriteRequest, FsWriteResult, HttpRequest, HttpResponse, HTTP_METHODS, MAX_HTTP_REQUEST_BODY, MAX_HTTP_RESPONSE_BODY, SpawnRequest, SpawnResult, type SchemaVerdict} from './schemas.js';
export {QuotaBook} from './quota.js';
