/**
 * echo: answers every `echo.*` message with the same payload on `echo.reply`, keeping the
 * correlation id. Its own replies match `echo.>` too, so it ignores `echo.reply`.
 */
import {Message, onMessage, send, log, LOG_WARN, errorName} from "astrid-sdk";
export {astrid_alloc, astrid_handle} from "astrid-sdk";

const REPLY_TOPIC = "echo.reply";

function handle(msg: Message): i32 {
  if (msg.topic == REPLY_TOPIC) return 0;
  const seq = send(REPLY_TOPIC, msg.payload, msg.corr);
  if (seq < 0) {
    log(LOG_WARN, "echo: send failed: " + errorName(seq));
    return 1;
  }
  return 0;
}

onMessage(handle);
