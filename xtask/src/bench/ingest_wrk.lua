-- wrk script of `cargo xtask bench ingest`: posts pre-signed webhooks from a file
-- (one "signature<TAB>body" per line), each thread its own share, never the same twice.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  local total = tonumber(args[2])
  local me = id
  requests = {}
  local i = 0
  for line in io.lines(path) do
    if i % total == (me - 1) then
      local tab = line:find("\t", 1, true)
      table.insert(requests, { sig = line:sub(1, tab - 1), body = line:sub(tab + 1) })
    end
    i = i + 1
  end
  next_index = 1
end

function request()
  local r = requests[next_index]
  next_index = next_index + 1
  if next_index > #requests then next_index = 1 end
  return wrk.format("POST", "/webhooks/whatsapp",
    { ["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = r.sig }, r.body)
end

function done(summary, latency, requests)
  io.write(string.format("JSON {\"requests\":%d,\"seconds\":%.3f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"errors\":%d,\"non2xx\":%d}\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
