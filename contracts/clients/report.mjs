// The report every client scenario prints: the steps it finished, with what the
// client handed back, and the step that failed with its error. Each step has
// 30 seconds; the process exits on its own when the report is out.

export async function report (client, scenario) {
  const result = { client, steps: [], failed: null, error: null }
  const run = {
    async step (name, action) {
      result.failed = name
      let timer
      const limit = new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within 30 s`)), 30000)
      })
      try {
        const value = await Promise.race([action(), limit])
        result.steps.push({ step: name, ...value })
        result.failed = null
        return value
      } finally {
        clearTimeout(timer)
      }
    }
  }
  try {
    await scenario(run)
  } catch (error) {
    result.error = String(error && error.stack ? error.stack : error)
  }
  process.stdout.write(JSON.stringify(result) + '\n')
  process.exit(result.failed ? 1 : 0)
}

// GET /backend-api/conversation/{id}: the assistant texts along the current branch.
export async function readBack (base, token, conversationId) {
  const response = await fetch(`${base}/backend-api/conversation/${conversationId}`, {
    headers: { Authorization: `Bearer ${token}` }
  })
  if (response.status !== 200) throw new Error(`GET conversation answered ${response.status}`)
  const conversation = await response.json()
  return { via: 'plain request', ...branch(conversation) }
}

function branch (conversation) {
  const texts = []
  let node = conversation.mapping[conversation.current_node]
  while (node) {
    const message = node.message
    if (message && message.author.role === 'assistant') texts.unshift(message.content.parts.join(''))
    node = node.parent ? conversation.mapping[node.parent] : null
  }
  return { assistant_texts: texts, current_node: conversation.current_node, title: conversation.title }
}
