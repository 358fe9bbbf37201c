-- wrk script: POST /batch with the JSON list of names in a file.
-- Usage: wrk -s batch.lua URL -- BODY_FILE
function init(args)
  local fh = io.open(args[1], "rb")
  wrk.body = fh:read("*a")
  fh:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  return wrk.format("POST", "/batch")
end
