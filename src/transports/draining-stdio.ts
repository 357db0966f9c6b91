import { PassThrough } from "node:stream";
import {
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type RequestId,
  type Transport,
} from "@modelcontextprotocol/server";
import { StdioServerTransport } from "@modelcontextprotocol/server/stdio";

/**
 * stdio that answers every request it has read before it closes. A host that
 * writes its requests and closes stdin (a script, a CI step) still gets each
 * answer: the SDK's own transport closes at end of input and aborts what is
 * still running.
 */
export class DrainingStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private readonly input = new PassThrough();
  private readonly inner: StdioServerTransport;
  private readonly unanswered = new Set<RequestId>();
  private inputEnded = false;

  constructor(
    private readonly stdin: NodeJS.ReadableStream = process.stdin,
    stdout: NodeJS.WritableStream = process.stdout,
  ) {
    this.inner = new StdioServerTransport(this.input, stdout as never);
  }

  async start(): Promise<void> {
    this.inner.onmessage = (message) => {
      if (isJSONRPCRequest(message)) this.unanswered.add(message.id);
      this.onmessage?.(message);
    };
    this.inner.onerror = (error) => this.onerror?.(error);
    this.inner.onclose = () => this.onclose?.();
    await this.inner.start();
    this.stdin.pipe(this.input, { end: false });
    this.stdin.once("end", () => {
      this.inputEnded = true;
      this.closeWhenAnswered();
    });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    await this.inner.send(message);
    if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
      if (message.id !== undefined) this.unanswered.delete(message.id);
      this.closeWhenAnswered();
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private closeWhenAnswered() {
    if (this.inputEnded && this.unanswered.size === 0) this.input.end();
  }
}
