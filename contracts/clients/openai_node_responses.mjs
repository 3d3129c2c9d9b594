// The official Node SDK (openai, pinned) against a live mock's Responses API:
// a plain response, a stream through the SDK's strict stream helper, and a
// function tool round trip continued with previous_response_id.
// Usage: node openai_node_responses.mjs <mock base url>

import OpenAI from 'openai'
import { report } from './report.mjs'

const base = process.argv[2]
const client = new OpenAI({ apiKey: 'sk-node-test', baseURL: `${base}/v1`, maxRetries: 0 })
const weather = {
  type: 'function',
  name: 'get_weather',
  description: 'The current weather in a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false
  },
  strict: true
}

await report('openai (npm)', async (run) => {
  await run.step('plain', async () => {
    const response = await client.responses.create({ model: 'gpt-4.1', input: 'Say hello.' })
    return { status: response.status, text: response.output_text, id: response.id }
  })
  await run.step('stream', async () => {
    const stream = client.responses.stream({ model: 'gpt-4.1', input: 'Say hello again.' })
    let streamed = ''
    let progress = 0
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') {
        streamed += event.delta
        progress += 1
      }
    }
    const final = await stream.finalResponse()
    return { status: final.status, text: final.output_text, streamed, progress }
  })
  await run.step('tool round trip', async () => {
    const stream = client.responses.stream({ model: 'gpt-4.1', input: 'Weather in Paris?', tools: [weather] })
    for await (const _event of stream) { /* the helper checks every event */ }
    const first = await stream.finalResponse()
    const call = first.output[0]
    if (call.type !== 'function_call') throw new Error(`expected a function call, got ${call.type}`)
    const second = await client.responses.create({
      model: 'gpt-4.1',
      previous_response_id: first.id,
      tools: [weather],
      input: [{ type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ temp_c: 18 }) }]
    })
    return {
      name: call.name,
      arguments: JSON.parse(call.arguments),
      previous: second.previous_response_id === first.id,
      text: second.output_text
    }
  })
})
