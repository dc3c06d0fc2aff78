/**
 * The uplink protocol: length-prefixed msgpack frames with a maximum size, and the closed
 * union of messages a client and the daemon exchange. Pure: no sockets here. One way in.
 */
export {encodeFrame, FrameDecoder, DEFAULT_MAX_FRAME_BYTES} from './frames.js';
export {parseMessage, PROTOCOL_VERSION, type UplinkMessage, type UplinkType} from './messages.js';
