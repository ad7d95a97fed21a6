-- wrk script: each request creates one API key (one row, one durable write).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BRASA_KEY")
wrk.body = '{"name":"bench","permissions":["users.track"]}'
