// The JavaScript side of the code node's sandbox: Node.js runs this with -e inside the jail
// (_jail.py). It reads {code, inputs} from stdin, calls main(inputs) with the inputs as one object,
// as Dify does (`function main({arg1, arg2})`), awaits it if it returns a promise, and writes one
// JSON result line to fd 3. Whatever the code prints goes to stderr.
'use strict';
const fs = require('fs');
const vm = require('vm');

const RESULT_FD = 3;
const FILENAME = 'code.js';

function lineOf(error) {
  const match = /code\.js:(\d+)/.exec(String(error && error.stack));
  return match ? Number(match[1]) : null;
}

function failure(error, kind) {
  let message;
  if (error instanceof Error) {
    message = `${error.name}: ${error.message}`;
    if (error instanceof RangeError && /allocation failed/i.test(error.message)) kind = 'memory';
  } else {
    message = `Uncaught ${String(error)}`;
  }
  return { ok: false, kind, message, line: lineOf(error) };
}

function contract(message) {
  return { ok: false, kind: 'contract', message, line: null };
}

function encode(message) {
  try {
    return JSON.stringify(message);
  } catch (error) {
    for (const [name, value] of Object.entries(message.result || {})) {
      try {
        JSON.stringify(value);
      } catch (inner) {
        return JSON.stringify(contract(`output '${name}' cannot be encoded as JSON (${inner.message})`));
      }
    }
    return JSON.stringify(contract(`main() returned a value that cannot be encoded as JSON (${error.message})`));
  }
}

function send(message) {
  const data = Buffer.from(encode(message) + '\n');
  let offset = 0;
  while (offset < data.length) offset += fs.writeSync(RESULT_FD, data, offset);
  // Timers or handles the code left behind must not keep the run alive.
  process.exit(0);
}

async function run() {
  const request = JSON.parse(fs.readFileSync(0, 'utf8'));
  let main;
  try {
    // No newline before the code: its line numbers stay the user's.
    const source =
      '(function (require, module, exports) {' +
      request.code +
      "\n;return typeof main === 'function' ? main : undefined;\n})";
    main = new vm.Script(source, { filename: FILENAME }).runInThisContext()(require, module, exports);
  } catch (error) {
    return failure(error, error instanceof SyntaxError ? 'syntax' : 'exception');
  }
  if (typeof main !== 'function') return contract('the code defines no main() function');
  let result;
  try {
    result = main(request.inputs);
    if (result && typeof result.then === 'function') result = await result;
  } catch (error) {
    return failure(error, 'exception');
  }
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    const kind = result === null ? 'null' : Array.isArray(result) ? 'array' : typeof result;
    return contract(`main() must return an object, not ${kind}`);
  }
  return { ok: true, result };
}

run().then(send, (error) => send(failure(error, 'exception')));
