// Calls every operation of the served WSDL with node-soap and prints one JSON object:
// {operation: response} (or {operation: {fault: faultcode, text: faultstring}}).
// Usage: node call_every_operation.js WSDL_URL REQUESTS_JSON
// REQUESTS_JSON: [[label, operation, arguments], ...] written by the Python test.
const fs = require('fs');
const soap = require('soap');

async function main() {
  const [url, requestsFile] = process.argv.slice(2);
  const requests = JSON.parse(fs.readFileSync(requestsFile, 'utf8'));
  const client = await soap.createClientAsync(url);
  const out = { endpoint: client.wsdl.services.SegmentationService
    ? Object.values(client.wsdl.services.SegmentationService.ports)[0].location : null };
  for (const [label, operation, args] of requests) {
    try {
      const [result] = await client[operation + 'Async'](args);
      out[label] = result;
    } catch (err) {
      const body = err.root && err.root.Envelope && err.root.Envelope.Body;
      out[label] = body && body.Fault
        ? { fault: body.Fault.faultcode, text: body.Fault.faultstring }
        : { error: String(err.message || err) };
    }
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => { process.stderr.write(String(err && err.stack || err) + '\n'); process.exit(1); });
