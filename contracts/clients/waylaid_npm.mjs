// Drives the npm package `@waylaidwanderer/chatgpt-api` (ChatGPTBrowserClient)
// against a mock: two streamed turns of one conversation (the first also asks
// for a title), then reads the conversation back.
// Usage: node waylaid_npm.mjs BASE_URL — prints one JSON report on stdout.
import ChatGPTBrowserClient from '@waylaidwanderer/chatgpt-api/src/ChatGPTBrowserClient.js'
import { readBack, report } from './report.mjs'

const base = process.argv[2].replace(/\/$/, '')
const token = 'contract-token'
// Pointed at the mock by configuration: reverseProxyUrl is a documented option.
const client = new ChatGPTBrowserClient({
  reverseProxyUrl: `${base}/backend-api/conversation`,
  accessToken: token,
  model: 'auto'
})

await report('@waylaidwanderer/chatgpt-api', async (run) => {
  const first = await run.step('first turn', async () => {
    const progress = []
    const answer = await client.sendMessage('Hello from the browser client', {
      onProgress: (delta) => progress.push(delta)
    })
    const title = await answer.details.title
    return {
      text: answer.response,
      streamed: progress.filter((delta) => delta !== '[DONE]').join(''),
      progress: progress.length,
      conversation_id: answer.conversationId,
      message_id: answer.messageId,
      title
    }
  })
  await run.step('second turn', async () => {
    const progress = []
    const answer = await client.sendMessage('And a second message', {
      conversationId: first.conversation_id,
      parentMessageId: first.message_id,
      onProgress: (delta) => progress.push(delta)
    })
    return {
      text: answer.response,
      streamed: progress.filter((delta) => delta !== '[DONE]').join(''),
      progress: progress.length,
      conversation_id: answer.conversationId,
      message_id: answer.messageId
    }
  })
  // The client has no call to read a conversation: a plain request does it.
  await run.step('read back', () => readBack(base, token, first.conversation_id))
})
