// The r slider's requests: fields of one frame at another r, one request in flight, only the
// newest waiting (src/shared/channel.ts, CoalescedRequest); an answer that came back is drawn
// by the owner, and its round trip (post -> pixels drawn) is reported as `timing` r-slider and
// left on <body> for bench/visualizer.ts.
import { type Channel, CoalescedRequest, type MessageOf } from '../../src/shared/channel';
import type { FieldsResult, FromWebview, ToWebview } from '../../src/shared/protocol/visualizer';

/** An answer that does not come within this is given up (the next position goes out). */
const FIELDS_TIMEOUT_MS = 20_000;

export interface RAnswer {
  frame: number;
  rFraction: number;
  result: FieldsResult;
  sentAt: number;
  receivedAt: number;
}

export class RSliderRequests {
  private readonly requests: CoalescedRequest<{ frame: number; rFraction: number }, RAnswer>;

  /**
   * onAnswer takes the answer and draws it if it is of the frame shown; it returns when the draw
   * began (performance.now()), or undefined when nothing was drawn (then no round trip is reported).
   */
  constructor(private readonly channel: Channel<ToWebview, FromWebview>, private readonly onAnswer: (a: RAnswer) => number | undefined) {
    this.requests = new CoalescedRequest(async ({ frame, rFraction }) => {
      const { reply } = channel.request<MessageOf<ToWebview, 'fields'>>({ type: 'fieldsAt', frame, rFraction },
        { timeoutMs: FIELDS_TIMEOUT_MS });
      const answer = await reply;
      const receivedAt = channel.lastReceivedAt;
      return answer?.type === 'fields' ? { frame, rFraction, result: answer.result, sentAt: 0, receivedAt } : undefined;
    });
  }

  /** Asks for frame `frame` at r = rFraction * t. */
  request(frame: number, rFraction: number): void {
    this.requests.request({ frame, rFraction }).then((a) => {
      if (!a?.reply) return;
      const answer = { ...a.reply, sentAt: a.sentAt };
      const drawStart = this.onAnswer(answer);
      if (drawStart === undefined) return;
      const drawn = performance.now();
      requestAnimationFrame(() => {
        const ms = performance.now() - answer.sentAt;
        // read by bench/visualizer.ts: the round trip and where it went
        document.body.dataset.lastRoundTrip = ms.toFixed(2);
        document.body.dataset.lastTransport = (answer.receivedAt - answer.sentAt).toFixed(2);
        document.body.dataset.lastDraw = (drawn - drawStart).toFixed(2);
        this.channel.post({ type: 'timing', name: 'r-slider', ms });
      });
    }, () => {
      // the host answered with an error: the panel shows it (its `error` event)
    });
  }

  /** A new trajectory came: the position waiting is old news. */
  dropWaiting(): void {
    this.requests.dropWaiting();
  }

  /** A new model: nothing in flight counts any more. */
  reset(): void {
    this.requests.reset();
  }
}
