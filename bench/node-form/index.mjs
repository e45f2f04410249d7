// A typical form-to-DynamoDB+SES Lambda in Node.js: the baseline scripts/bench-lambda measures
// capture against, the same way and in the same runs. Four AWS calls per submission: is the
// address known (GetItem), store the lead (PutItem), queue it for the next stage
// (SendMessage), acknowledge it by email (SendEmail). Clients are made once, at module load,
// as AWS recommends.
import { randomUUID } from "node:crypto";
import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
import { SESClient, SendEmailCommand } from "@aws-sdk/client-ses";

const dynamodb = new DynamoDBClient({});
const sqs = new SQSClient({});
const ses = new SESClient({});
const table = process.env.LEADRELAY_TABLE;
const queue = process.env.LEADRELAY_CAPTURED_QUEUE_URL;
const sender = process.env.BASELINE_SENDER;

const answer = (statusCode, body) => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

export const handler = async (event) => {
  const text = event.isBase64Encoded
    ? Buffer.from(event.body ?? "", "base64").toString("utf8")
    : event.body ?? "";
  let form;
  try {
    form = JSON.parse(text);
  } catch {
    return answer(400, { error: "the body is not JSON" });
  }
  const email = String(form.email ?? "").trim().toLowerCase();
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
    return answer(422, { error: "an email address is required" });
  }
  const known = await dynamodb.send(
    new GetItemCommand({
      TableName: table,
      Key: { pk: { S: `baseline-person#${email}` }, sk: { S: "person" } },
      ConsistentRead: true,
    }),
  );
  const leadId = known.Item?.lead_id?.S ?? randomUUID();
  await dynamodb.send(
    new PutItemCommand({
      TableName: table,
      Item: {
        pk: { S: `baseline-lead#${leadId}` },
        sk: { S: "lead" },
        email: { S: email },
        name: { S: `${form.first_name ?? ""} ${form.last_name ?? ""}`.trim() },
        company: { S: String(form.company ?? "") },
        message: { S: String(form.message ?? "") },
        received_at: { S: new Date().toISOString() },
      },
    }),
  );
  await sqs.send(
    new SendMessageCommand({ QueueUrl: queue, MessageBody: JSON.stringify({ lead_id: leadId }) }),
  );
  await ses.send(
    new SendEmailCommand({
      Source: sender,
      Destination: { ToAddresses: [email] },
      Message: {
        Subject: { Data: "Thanks, we got your message" },
        Body: { Text: { Data: `Hi ${form.first_name ?? ""}, someone will be in touch shortly.` } },
      },
    }),
  );
  return answer(201, { lead_id: leadId });
};
