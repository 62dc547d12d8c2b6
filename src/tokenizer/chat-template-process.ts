/**
 * The child process chat templates render in (started by chat-template-bridge.ts with a heap
 * limit): it answers each request on its IPC channel, and ends with its parent.
 */
import { renderChatTemplate, type ChatRenderRequest } from './chat-template-render.ts';

process.on('message', (req: ChatRenderRequest) => process.send?.(renderChatTemplate(req)));
process.on('disconnect', () => process.exit(0));
process.send?.('ready');
