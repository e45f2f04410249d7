// Lambda's Runtime API loop for the baseline, as Node's managed runtime runs a handler: load
// the module (init), then poll `next`, call the handler, post its answer, forever.
const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;
const { handler } = await import("./index.mjs");
for (;;) {
  const next = await fetch(`${api}/invocation/next`);
  const id = next.headers.get("lambda-runtime-aws-request-id");
  const event = await next.json();
  try {
    const result = await handler(event);
    await fetch(`${api}/invocation/${id}/response`, { method: "POST", body: JSON.stringify(result) });
  } catch (e) {
    await fetch(`${api}/invocation/${id}/error`, {
      method: "POST",
      body: JSON.stringify({ errorMessage: String(e), errorType: e?.name ?? "Error" }),
    });
  }
}
