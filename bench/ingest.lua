-- wrk script: POST /users/track, 75 attributes objects + 75 events per request.
--
-- Every object names a user drawn at random from a population of
-- $BENCH_USERS external ids (100000), so a run both creates users and
-- updates existing ones. Attribute objects carry external_id + 8 custom
-- attributes (2 strings, 2 ints, a float, a bool, a time string, an array);
-- events carry name, time and 3-5 properties. Per-object values come from
-- pools of pre-rendered variants built in init(), so generating a body costs
-- the load generator little CPU (it shares the machine with the server).
--
-- Checks: every answer must be 201; every 50th body must report
-- attributes_processed 75 and events_processed 75. done() prints the counts
-- and a "check:" line that bench/ingest.sh reads.

local users = tonumber(os.getenv("BENCH_USERS") or "100000")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BRASA_KEY") or "")

local threads = {}
local nthreads = 0
function setup(thread)
   nthreads = nthreads + 1
   thread:set("tid", nthreads)
   table.insert(threads, thread)
end

local VARIANTS = 1024
local attr_tails, event_tails = {}, {}
local random, concat, fmt = math.random, table.concat, string.format

local plans = {"free", "basic", "gold", "platinum", "enterprise"}
local cities = {"Lisbon", "Porto", "Berlin", "Paris", "S\\u00e3o Paulo", "New York", "Osaka", "Nairobi", "Lyon", "Austin"}
local tagset = {"sports", "news", "music", "travel", "food", "tech", "finance", "kids"}
local skus = {"sku-1001", "sku-2040", "sku-3310", "sku-4977", "sku-5123", "sku-6402"}

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

-- The part of an object after its external_id (starts with ',').
local function attr_tail(now)
   local ntags = random(1, 4)
   local tags = {}
   for i = 1, ntags do tags[i] = '"' .. tagset[random(#tagset)] .. '"' end
   return fmt(',"plan":"%s","home_city_custom":"%s","visits":%d,"loyalty_points":%d,' ..
              '"lifetime_value":%.2f,"vip":%s,"last_purchase_at":"%s","interests":[%s]}',
              plans[random(#plans)], cities[random(#cities)], random(0, 5000), random(0, 1000000),
              random() * 2000, random(2) == 1 and "true" or "false",
              iso(now - random(0, 30 * 86400)), concat(tags, ","))
end

local event_kinds = {
   function() return "viewed_item", fmt('{"sku":"%s","category":"%s","price":%.2f}',
      skus[random(#skus)], tagset[random(#tagset)], random() * 300) end,
   function() return "added_to_cart", fmt('{"sku":"%s","quantity":%d,"price":%.2f,"gift":%s}',
      skus[random(#skus)], random(1, 5), random() * 300, random(2) == 1 and "true" or "false") end,
   function() return "search", fmt('{"query":"%s %s","results":%d,"page":%d,"filters":["%s"]}',
      tagset[random(#tagset)], cities[random(#cities)], random(0, 500), random(1, 10), plans[random(#plans)]) end,
   function() return "session_ping", fmt('{"screen":"home","duration_s":%d,"battery":%.2f,"online":true,"build":%d}',
      random(1, 3600), random(), random(100, 999)) end,
   function() return "article_read", fmt('{"article_id":%d,"section":"%s","percent":%.1f,"paywalled":%s,"author":"a%d"}',
      random(1, 100000), tagset[random(#tagset)], random() * 100, random(2) == 1 and "true" or "false", random(1, 300)) end,
}

local function event_tail(now)
   local name, props = event_kinds[random(#event_kinds)]()
   return fmt(',"name":"%s","time":"%s","properties":%s}', name, iso(now - random(0, 7 * 86400)), props)
end

function init(args)
   math.randomseed((tid or 1) * 7919 + os.time())
   local now = os.time()
   for i = 1, VARIANTS do
      attr_tails[i] = attr_tail(now)
      event_tails[i] = event_tail(now)
   end
end

local parts = {}
function request()
   local n = 0
   n = n + 1; parts[n] = '{"attributes":['
   for i = 1, 75 do
      n = n + 1; parts[n] = (i > 1 and ',{"external_id":"user-' or '{"external_id":"user-') .. random(0, users - 1)
      n = n + 1; parts[n] = '"' .. attr_tails[random(VARIANTS)]
   end
   n = n + 1; parts[n] = '],"events":['
   for i = 1, 75 do
      n = n + 1; parts[n] = (i > 1 and ',{"external_id":"user-' or '{"external_id":"user-') .. random(0, users - 1)
      n = n + 1; parts[n] = '"' .. event_tails[random(VARIANTS)]
   end
   n = n + 1; parts[n] = ']}'
   local body = concat(parts, "", 1, n)
   bytes_sent = (bytes_sent or 0) + #body
   bodies = (bodies or 0) + 1
   return wrk.format(nil, nil, nil, body)
end

responses, non201, sampled, sample_bad = 0, 0, 0, 0
function response(status, headers, body)
   responses = responses + 1
   if status ~= 201 then
      non201 = non201 + 1
      if not first_bad then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
   elseif responses % 50 == 1 then
      sampled = sampled + 1
      if not (string.find(body, '"attributes_processed":%s*75[,}]') and string.find(body, '"events_processed":%s*75[,}]'))
         or string.find(body, '"errors"') then
         sample_bad = sample_bad + 1
         if not first_bad then first_bad = "201 " .. string.sub(body, 1, 300) end
      end
   end
end

function done(summary, latency, requests)
   local r, b, s, sb, nb, sent = 0, 0, 0, 0, 0, 0
   local bad
   for _, t in ipairs(threads) do
      r = r + t:get("responses"); b = b + t:get("non201")
      s = s + t:get("sampled"); sb = sb + t:get("sample_bad")
      nb = nb + (t:get("bodies") or 0); sent = sent + (t:get("bytes_sent") or 0)
      bad = bad or t:get("first_bad")
   end
   io.write(fmt("check: responses=%d non201=%d sampled=%d sample_bad=%d mean_body=%d\n",
                r, b, s, sb, nb > 0 and math.floor(sent / nb) or 0))
   if bad then io.write("first bad answer: " .. bad .. "\n") end
end
