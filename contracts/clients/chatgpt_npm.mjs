// Drives the npm package `chatgpt` (ChatGPTUnofficialProxyAPI) against a mock:
// two streamed turns of one conversation, then reads the conversation back.
// Usage: node chatgpt_npm.mjs BASE_URL — prints one JSON report on stdout.
import { ChatGPTUnofficialProxyAPI } from 'chatgpt'
import { readBack, report } from './report.mjs'

const base = process.argv[2].replace(/\/$/, '')
const token = 'contract-token'
// Pointed at the mock by configuration: the endpoint URL is a documented option.
const api = new ChatGPTUnofficialProxyAPI({
  accessToken: token,
  apiReverseProxyUrl: `${base}/backend-api/conversation`,
  model: 'auto'
})

await report('chatgpt', async (run) => {
  const first = await run.step('first turn', async () => {
    const progress = []
    const answer = await api.sendMessage('Hello from the chatgpt package', {
      timeoutMs: 20000,
      onProgress: (partial) => progress.push(partial.text)
    })
    return { text: answer.text, progress: progress.length, conversation_id: answer.conversationId, message_id: answer.id }
  })
  await run.step('second turn', async () => {
    const progress = []
    const answer = await api.sendMessage('And a second message', {
      conversationId: first.conversation_id,
      parentMessageId: first.message_id,
      timeoutMs: 20000,
      onProgress: (partial) => progress.push(partial.text)
    })
    return { text: answer.text, progress: progress.length, conversation_id: answer.conversationId, message_id: answer.id }
  })
  // The package has no call to read a conversation: a plain request does it.
  await run.step('read back', () => readBack(base, token, first.conversation_id))
})
