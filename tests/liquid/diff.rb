# diff.rb -- differential check of brasa's Liquid against Shopify's (Ruby).
#
# The golden corpus pins behaviour someone thought of; this finds the rest.
# It generates random templates (seeded: template k of seed S is always the
# same), renders each with ruby-liquid in lax mode (the engine Braze's
# Liquid is built on) and with `brasa liquid render --batch`, and compares
# the outputs byte for byte. It also puts every cased character through
# upcase, downcase and capitalize and compares them with Ruby's.
#
# A difference is accepted only when it falls in a class docs/liquid.md
# lists (the `key` column of its table, read from the doc, so a class
# cannot be accepted without being documented):
# - errors: brasa failed the render where lax Liquid printed the same error
#   (or recorded it in a capture) and went on;
# - a construct class: the generator records which documented constructs a
#   template holds (a `blank`, a `date` of arbitrary text, ...), and the
#   template is made again with each replaced by a plain one; the
#   difference is the construct's only if that version agrees.
# Anything else is a failure, printed with the seed, the template's number,
# the template and both outputs; the exit status is then 1.
#
# usage: ruby tests/liquid/diff.rb [--bin PATH] [--count N] [--seed S] [--show N] [--all]
#   --bin    brasa binary (default build/test/brasa)
#   --count  templates to generate (default 10000)
#   --seed   generator seed (default 1)
#   --show   also print N documented differences, to review them
#   --all    print every failure (30 at most otherwise)
# Without Ruby's liquid gem it prints a skip line and exits 0.
require 'json'
require 'set'
require 'tmpdir'
require 'open3'
require 'optparse'

begin
  require 'liquid'
rescue LoadError
  puts 'liquid-diff: skipped (the ruby-liquid package is not installed)'
  exit 0
end

ROOT = File.expand_path('../..', __dir__)
opts = { bin: File.join(ROOT, 'build/test/brasa'), count: 10_000, seed: 1, show: 0 }
OptionParser.new do |o|
  o.on('--bin PATH') { |v| opts[:bin] = v }
  o.on('--count N', Integer) { |v| opts[:count] = v }
  o.on('--seed S', Integer) { |v| opts[:seed] = v }
  o.on('--show N', Integer) { |v| opts[:show] = v }
  o.on('--all') { opts[:all] = true }
end.parse!

# The time and zone Braze's servers see: UTC, and a fixed "now" that brasa
# gets as --now.
NOW = 1_628_100_793 # 2021-08-04T18:13:13Z
ENV['TZ'] = 'UTC'
class Time
  class << self
    def now = Time.at(NOW)
  end
end

# Documented classes: the keys of the table in docs/liquid.md's
# "Differences" section (rows starting with | `key` |).
DOC = File.join(ROOT, 'docs/liquid.md')
DOCUMENTED = File.readlines(DOC).filter_map { |l| l[/\A\| `([a-z0-9-]+)` \|/, 1] }.to_set

CONTEXT = {
  'name' => 'Zoë', 's' => 'Hello World', 'e' => '', 'sp' => '  two  words  ',
  'u' => 'straße ŉ İı ΣΑΣ ǆ ﬁ', 'html' => '<p>Hi <b>there</b></p><SCRIPT>x()</SCRIPT>!',
  'csv' => 'a,b,,c', 'nl' => "one\ntwo\r\nthree",
  'n' => nil, 't' => true, 'f' => false,
  'i' => 7, 'neg' => -3, 'zero' => 0, 'fl' => 2.5, 'nz' => -0.0, 'tiny' => 0.0001,
  'big' => 1234567890123456.7, 'e15' => 1.0e15, 'numstr' => '3.14', 'intstr' => '42', 'nzstr' => '-0.0',
  'arr' => [3, 1, 2], 'words' => %w[b A c a], 'mixed' => [1, 'a', nil, 2.5], 'none' => [],
  'nested' => [[1, 2], [3]], 'floats' => [1.5, -0.0, 2.25],
  'h' => { 'a' => 1, 'b' => 'x' },
  'items' => [
    { 'name' => 'pen', 'price' => 2.5, 'qty' => 3, 'tag' => 'a' },
    { 'name' => 'Ink', 'price' => 10, 'qty' => nil, 'tag' => 'b' },
    { 'name' => 'cap', 'price' => 2.5, 'qty' => 1 },
  ],
  'd' => '2021-06-03T17:13:41+0000', 'dz' => '2021-06-03 17:13:41 -0000', 'dep' => 1_622_740_421,
}.freeze

# ------------------------------------------------------------------ generator

class Gen
  STRINGS = [
    'hello', 'Hello World', '', ' padded ', 'a,b,c', 'a b  c', 'x', 'ABC def', '3.14', '42', '-0.0', '0', '1,5',
    'straße', 'ŉ', 'ǰ', 'ΣΑΣ ΟΔΟΣ', 'ς', 'İstanbul', 'ıi', 'ǆemal', 'ﬁne ﬃ', 'Ǳ', 'ΐ', 'Éclair', 'ÿ', 'ǅ',
    'µ', 'ẞ', 'ſ', 'Ꭰꭰ', '𐐨', 'ⓐⒶ', 'ǈ', 'ῼ', 'ᾳ', 'ǉ', 'ß', 'ﬀ', 'ǰa', 'Straße', 'ΑΣ.', 'Ǆ', 'ꞵ', 'ﬓ',
    'and & <b>', '<SCRIPT>x()</SCRIPT>y', '<Style>p</style>z', '<!-- c -->d', '<p class=x>p</p>', 'a<br/>b',
    '<script>s</script>t', "l1\nl2", 'a-b_c d', 'https://x.test/?a=1&b=2', 'Zm9v', '&amp; &lt;', 'Ünïcödé',
  ].freeze
  DATES = [
    '2021-06-03T17:13:41+0000', '2021-06-03T17:13:41-0000', '2021-06-03T17:13:41+00:00', '2021-06-03T17:13:41Z',
    '2021-06-03T17:13:41+05:30', '2021-06-03T17:13:41-08:00', '2021-06-03 17:13:41 UTC', '2021-06-03 17:13:41 GMT',
    '2021-06-03 17:13:41', '2021-06-03', 'Thu, 03 Jun 2021 17:13:41 +0000', 'Thu, 03 Jun 2021 17:13:41 -0000',
    'June 3, 2021', '3 Jun 2021', 'now', 'today', '1622740421', '2021-12-31T23:59:59+0100', '2020-02-29T00:00:00+0000',
  ].freeze
  FORMATS = [
    '%Y-%m-%d', '%Z', '%z', '%Z %z', '%H:%M:%S %Z', '%a %b %e %Y', '%s', '%j %U %W', '%-d/%-m/%y', '%I:%M %p',
    '%A, %B %d', '%c', '%F %T %:z', '%D %r', '%e|%k|%l', '%^a %^B', '%Y%m%d%H%M%S', '%u %w %V %G', '%%',
    '%-H|%_m|%010Y', '%^b %#p %P', '%L %N %3N', '%::z %C %g %v', '%x %X %y', '%-I%p', '%h %-y %n%t', '%Q',
  ].freeze
  INTS = %w[0 1 -1 2 3 7 10 -3 100 12345 -0].freeze
  FLOATS = %w[1.5 -0.0 0.0 2.675 0.1 -2.5 3.0 0.5 -0.5 1234567890123456.0 999999999999999.9 1000000000000000.5
              9999999999999998.0 100000000000000.0 1000000000000000.0 2000000000000000.0 0.0001 0.00001 -0.04
              123456789012345.67 5000000000000000.0].freeze
  VARS = %w[name s e sp u html csv nl n t f i neg zero fl nz tiny big e15 numstr intstr nzstr arr words mixed none
            nested floats h items d dz dep].freeze
  PROPS = %w[name price qty tag missing].freeze

  attr_reader :tags

  def initialize(seed)
    @seed = seed
    @tags = []
  end

  # Template k of the run (each has its own random stream, so any one can
  # be made again). With neutral, every construct that would show a
  # documented difference is replaced by a plain one drawing the same
  # random numbers: the rest of the template comes out the same.
  def template(k, neutral: false)
    @r = Random.new(@seed * 1_000_003 + k)
    @neutral = neutral
    @tags = []
    @locals = []
    @loops = []
    Array.new(1 + @r.rand(3)) { part(0) }.join
  end

  private

  def pick(a) = a[@r.rand(a.size)]
  def chance(p) = @r.rand < p
  # Records a documented class; false when the construct must be neutral.
  def doc(t)
    @tags << t
    !@neutral
  end

  def str_lit(s = pick(STRINGS))
    if chance(0.005)
      s = pick(['a}b', 'p{}', '}'])
      s = s.tr('{}', '()') unless doc('brace')
    end
    return "'#{s}'" unless s.include?("'")
    return "\"#{s}\"" unless s.include?('"')

    "'x'"
  end

  def num_lit
    chance(0.5) ? pick(INTS) : pick(FLOATS)
  end

  def var
    pool = VARS + @locals
    pool += @loops.flat_map { |l| [l, "#{l == @loops.last ? 'forloop' : l}.index"] } unless @loops.empty?
    v = pick(pool)
    case @r.rand(10)
    when 0 then "#{v}.size"
    when 1 then "#{v}.first"
    when 2 then "#{v}[#{pick(%w[0 1 -1 5 'a'])}]"
    when 3 then "items[#{@r.rand(3)}].#{pick(PROPS)}"
    when 4 then pick(["h.#{pick(%w[a b c])}", "h['a']", 'items.first.name', "items[1]['price']", 'h[n]'])
    else v
    end
  end

  def value
    case @r.rand(10)
    when 0, 1 then str_lit
    when 2, 3 then num_lit
    when 4 then pick(%w[true false nil])
    when 5 then range
    else var
    end
  end

  # Literal bounds may be floats (Liquid truncates them); a variable bound
  # that is a float is an invalid integer, so it comes rarely.
  def range
    lits = %w[1 0 -2 3 4 5 1.5 -1.5 2.9 4.2 -0.5 '2' '3x' nil]
    return "(#{pick(lits)}..#{pick(lits)})" if chance(0.6)

    var = chance(0.1) ? 'fl' : pick(%w[i neg intstr n arr.size zero])
    ints = %w[0 1 3 -2 '2']
    chance(0.5) ? "(#{pick(ints)}..#{var})" : "(#{var}..#{pick(ints)})"
  end

  def arg_num
    chance(0.7) ? num_lit : pick(%w[n i fl nz numstr intstr '2' '0.5' '-0.0' big e15])
  end

  def arg_int
    chance(0.85) ? pick(%w[0 1 2 3 -1 -2 5 10 i zero neg]) : pick(%w[n '2' '0' 1.5])
  end

  def arg_str = chance(0.8) ? str_lit(pick(['', ' ', ',', 'a', 'b', 'l', '-', 'x', '...', 'ß', '<b>', 'o W'])) : var

  # One filter call. Filters brasa lacks and Ruby has (or the reverse) are
  # left out: unknown filters are a syntax error in brasa by design.
  def filter
    case @r.rand(40)
    when 0 then 'upcase'
    when 1 then 'downcase'
    when 2 then 'capitalize'
    when 3 then pick(%w[strip_html escape escape_once strip lstrip rstrip strip_newlines newline_to_br])
    when 4 then pick(%w[url_encode url_decode base64_encode base64_url_safe_encode size first last])
    when 5 then "#{pick(%w[append prepend remove remove_first remove_last split])}: #{arg_str}"
    when 6 then "#{pick(%w[replace replace_first replace_last])}: #{arg_str}, #{arg_str}"
    when 7, 8
      len = pick(['', ", #{arg_int}", ', n', ', nil', ', false', ", #{pick(%w[1.5 '2'])}"])
      "slice: #{chance(0.85) ? pick(%w[0 1 -1 -3 2 5]) : pick(%w[n '1' 1.5])}#{len}"
    when 9 then "truncate: #{arg_int}#{chance(0.5) ? ", #{arg_str}" : ''}"
    when 10 then "truncatewords: #{arg_int}#{chance(0.5) ? ", #{arg_str}" : ''}"
    when 11 then "join#{chance(0.7) ? ": #{arg_str}" : ''}"
    when 12
      if chance(0.2)
        'reverse'
      else
        f = pick(%w[sort sort_natural uniq compact])
        f = 'uniq' if f.start_with?('sort') && !doc('sort')
        f + (chance(0.3) ? ": #{str_lit(pick(PROPS))}" : '')
      end
    when 13 then "map: #{str_lit(pick(PROPS))}"
    when 14 then "where: #{str_lit(pick(PROPS))}#{chance(0.5) ? ", #{value}" : ''}"
    when 15 then "concat: #{pick(%w[arr words none mixed])}"
    when 16..20
      op = pick(%w[plus minus times divided_by modulo])
      arg = arg_num
      # A product of two numbers past 1e15 is past 64 bits once floored:
      # an Integer in Ruby, a float here.
      arg = '1.0' if op == 'times' && (arg.match?(/\A-?\d{15,}/) || %w[big e15].include?(arg)) && !doc('bigint')
      "#{op}: #{arg}"
    when 21, 22 then pick(%w[abs ceil floor round])
    when 23, 24 then "round: #{pick(%w[0 1 2 -1 n '0' '1' false true 1.5 '0.0' 0.0 -0.0 nz])}"
    when 25 then "#{pick(%w[at_least at_most])}: #{arg_num}"
    when 26 then "default: #{value}#{chance(0.3) ? ', allow_false: true' : ''}"
    when 27..29
      # Dates from the DATES list must agree (see expr); other inputs may
      # be text Ruby's Time.parse reads as a date and brasa does not.
      "#{doc('dates') ? 'date' : 'append'}: #{str_lit(pick(FORMATS))}"
    when 30
      # Most text is not base64 (an error); decoded bytes that are not
      # UTF-8 make Ruby fail on later non-ASCII output.
      chance(0.2) && doc('binary') ? 'base64_decode' : 'strip'
    else pick(%w[size upcase downcase strip first last plus:\ 1 times:\ 1.0 append:\ '|'])
    end
  end

  def expr
    return "#{str_lit(pick(DATES))} | date: #{str_lit(pick(FORMATS))}" if chance(0.08)

    base = chance(0.1) ? str_lit(pick(DATES)) : value
    n = [0, 0, 1, 1, 1, 2, 2, 3][@r.rand(8)]
    ([base] + Array.new(n) { filter }).join(' | ')
  end

  def cond
    c = case @r.rand(6)
        when 0 then var
        when 1 then "#{value} contains #{chance(0.5) ? str_lit : value}"
        when 2
          rhs = value
          if chance(0.15)
            rhs = pick(%w[blank empty])
            rhs = 'nil' if rhs == 'blank' && !doc('blank')
          end
          "#{value} #{pick(%w[== != <>])} #{rhs}"
        else "#{value} #{pick(%w[< > <= >= == !=])} #{chance(0.6) ? num_lit : value}"
        end
    chance(0.25) ? "#{c} #{pick(%w[and or])} #{cond}" : c
  end

  def body(depth, n = 1 + @r.rand(2))
    Array.new(n) { part(depth + 1) }.join
  end

  def open(markup) = chance(0.1) ? "{%- #{markup} -%}" : "{% #{markup} %}"

  def part(depth)
    k = depth > 1 ? @r.rand(5) : @r.rand(26)
    case k
    when 0, 1 then pick(['x', ' ', "\n", ' - ', '[', ']', '|', "\n  ", 'é'])
    when 2, 3, 4 then chance(0.1) ? "{{- #{expr} -}}" : "{{ #{expr} }}"
    when 5, 6
      s = open("if #{cond}") + body(depth)
      s += open("elsif #{cond}") + body(depth) if chance(0.3)
      s += open('else') + body(depth) if chance(0.4)
      s + open('endif')
    when 7 then open("unless #{cond}") + body(depth) + (chance(0.3) ? open('else') + body(depth) : '') + open('endunless')
    when 8, 9 then case_tag(depth)
    when 10, 11, 12 then for_tag(depth)
    when 13, 14 then tablerow_tag(depth)
    when 15, 16
      name = pick(%w[x y z])
      @locals << name unless @locals.include?(name)
      open("assign #{name} = #{expr}")
    when 17
      name = pick(%w[x y cap])
      @locals << name unless @locals.include?(name)
      open("capture #{name}") + body(depth) + open('endcapture')
    when 18 then cycle_tag
    when 19 then open("#{pick(%w[increment decrement])} #{chance(0.95) ? pick(%w[c k i]) : 'd'}")
    when 20 then open('ifchanged') + body(depth) + open('endifchanged')
    when 21 then open("echo #{expr}")
    when 22 then "{% raw %}#{pick(['{{ x }}', '{% if %}', 'a'])}{% endraw %}"
    when 23 then "{% comment %}#{pick(['x', '{{ y }}'])}{% endcomment %}"
    when 24 then @loops.empty? ? liquid_tag : open(pick(%w[break continue]))
    else "{{ #{expr} }}"
    end
  end

  # {% liquid %}: one tag a line.
  def liquid_tag
    name = pick(%w[x y])
    @locals << name unless @locals.include?(name)
    lines = ["assign #{name} = #{expr}", "if #{cond}", "  echo #{expr}", 'else', "  echo #{name}", 'endif']
    lines.insert(1, '# a comment') if chance(0.3)
    "{% liquid\n#{lines.join("\n")}\n%}"
  end

  def case_tag(depth)
    subj = chance(0.5) ? pick(%w[x i s n t fl zero]) : value
    s = open("case #{subj}")
    (1 + @r.rand(3)).times do
      vals = Array.new(1 + @r.rand(2)) { chance(0.6) ? pick(%w[1 7 2.5 'x' 'hello' nil true 0 -0.0]) : value }
      s += open("when #{vals.join(pick([', ', ' or ']))}")
      # An assign to the subject between branches: Liquid evaluates the
      # subject again for every when.
      s += open("assign #{subj} = #{pick(%w[1 7 2.5 'x'])}") if subj.match?(/\A[a-z]+\z/) && chance(0.3)
      s += body(depth)
      s += open('else') + body(depth) if chance(0.2)
    end
    s + open('endcase')
  end

  def loop_var
    v = pick(%w[item v])
    @locals << v unless @locals.include?(v)
    v
  end

  def for_tag(depth)
    coll = pick([range, 'arr', 'words', 'mixed', 'none', 'items', 'h', 's', 'n', 'floats', 'nested', range, 'i'])
    attrs = []
    attrs << "limit: #{arg_int}" if chance(0.3)
    attrs << "offset: #{chance(0.2) ? 'continue' : arg_int}" if chance(0.3)
    if chance(0.2)
      # reversed after limit/offset: Liquid ignores it, brasa refuses it.
      late = !attrs.empty? && chance(0.1) && doc('strict')
      late ? attrs.push('reversed') : attrs.unshift('reversed')
    end
    v = loop_var
    @loops << v
    s = open("for #{v} in #{coll}#{attrs.empty? ? '' : ' ' + attrs.join(' ')}")
    s += body(depth, 1 + @r.rand(3))
    if chance(0.4)
      s += pick(['{{ forloop.index }}', '{{ forloop.rindex0 }}', '{{ forloop.first }}{{ forloop.last }}', '',
                 '{{ forloop.length }}{{ forloop.index0 }}{{ forloop.rindex }}', '{{ forloop.parentloop.index }}',
                 '{{ forloop.name }}'])
    end
    @loops.pop
    s += open('else') + body(depth) if chance(0.2)
    s + open('endfor')
  end

  def tablerow_tag(depth)
    coll = pick([range, 'arr', 'words', 'items', 'none', 'n', 's', 'h'])
    attrs = []
    odd = %w[0 -1 1 2 3 '2' 2.5 n 'x' 1.5 10 zero i]
    attrs << "cols: #{pick(odd)}" if chance(0.6)
    attrs << "limit: #{pick(odd)}" if chance(0.3)
    attrs << "offset: #{pick(odd)}" if chance(0.3)
    v = loop_var
    @loops << v
    inner = pick(['{{ tablerowloop.col }}', '{{ tablerowloop.col_last }}', '{{ tablerowloop.col0 }}{{ tablerowloop.row }}',
                  '{{ tablerowloop.col_first }}', '{{ tablerowloop.index }}/{{ tablerowloop.length }}',
                  '{{ tablerowloop.last }}{{ tablerowloop.rindex }}'])
    s = open("tablerow #{v} in #{coll} #{attrs.join(' ')}".rstrip) + "{{ #{v} }}" + inner
    s += body(depth, 1) if chance(0.3)
    @loops.pop
    s + open('endtablerow')
  end

  # Outside a loop: a loop holding two cycles of the same group (or the same
  # values) with different numbers of values.
  def cycle_tag
    group = chance(0.5) ? "#{pick(%w['g' 'h' 1 '1' g n])}: " : ''
    one = lambda do |n|
      vals = Array.new(n) { chance(0.7) ? pick(%w['a' 'b' 'c' 1 2 1.0 nil 'x']) : value }
      # Liquid splits the list at every comma, even inside quotes.
      if vals.any? { |v| v.match?(/\A['"].*,/) } && !doc('cycle-comma')
        vals = vals.map { |v| v.match?(/\A['"]/) ? v.tr(',', ';') : v }
      end
      "{% cycle #{group}#{vals.join(', ')} %}"
    end
    return one.call(1 + @r.rand(3)) unless @loops.empty?

    "{% for i in (1..#{1 + @r.rand(4)}) %}#{one.call(1 + @r.rand(3))}#{one.call(1 + @r.rand(3))}{% endfor %}"
  end
end

# ------------------------------------------------------------------- checking

# The output, or [:syntax, message] / [:raised, message]; errors lax mode
# printed (perhaps inside a capture, so not in the output) are in errors.
def ruby_render(src, errors)
  t = Liquid::Template.parse(src, error_mode: :lax)
  out = t.render(Marshal.load(Marshal.dump(CONTEXT)))
  errors.concat(t.errors)
  out
rescue Liquid::SyntaxError => e
  [:syntax, e.message]
rescue StandardError => e
  [:raised, "#{e.class}: #{e.message}"]
end

# brasa's results for JSON lines {template, context}, from one --batch run.
def brasa_batch(bin, lines)
  ctx_file = File.join(Dir.tmpdir, "liquid-diff-#{Process.pid}.json")
  File.write(ctx_file, JSON.generate(CONTEXT))
  out, err, st = Open3.capture3(bin, 'liquid', 'render', '--batch', '--context', ctx_file, '--now', NOW.to_s,
                                stdin_data: lines.map { |l| JSON.generate(l) + "\n" }.join)
  File.delete(ctx_file)
  results = out.lines
  if !st.success? || results.size != lines.size
    warn "liquid-diff: #{bin} --batch failed (status #{st.exitstatus}, #{results.size}/#{lines.size} results)"
    warn err
    exit 1
  end
  results.map { |l| JSON.parse(l) }
end

# Both renderings of each template.
def render_all(bin, srcs)
  brasa = brasa_batch(bin, srcs.map { |src| { template: src } })
  srcs.each_with_index.map do |src, i|
    errors = []
    { src: src, ruby: ruby_render(src, errors), errors: errors, brasa: brasa[i] }
  end
end

# Every character below U+20000 but the big uncased blocks (CJK, Hangul,
# Tangut, surrogates, private use) through upcase, downcase and capitalize
# (alone and starting a word), against Ruby's String methods, which is all
# Liquid's filters are. Returns [characters, documented, failures].
SEP = "\u241E"
UNCASED = [0x3400..0x4DBF, 0x4E00..0x9FFF, 0xAC00..0xD7A3, 0xD800..0xF8FF, 0x17000..0x18CFF, 0x1B000..0x1B2FF,
           0x241E..0x241E].freeze
def case_sweep(bin)
  chars = (0...0x20000).reject { |c| UNCASED.any? { |r| r.cover?(c) } }.map { |c| c.chr('UTF-8') }
  tpl = "{% for c in cs %}{{ c | upcase }}|{{ c | downcase }}|{{ c | capitalize }}|" \
        "{{ c | append: 'aB' | capitalize }}#{SEP}{% endfor %}"
  slices = chars.each_slice(1000).to_a
  results = brasa_batch(bin, slices.map { |cs| { template: tpl, context: { cs: cs } } })
  documented = 0
  failures = []
  slices.zip(results).each do |cs, b|
    got = (b['out'] || '').split(SEP)
    cs.each_with_index do |c, i|
      want = "#{c.upcase}|#{c.downcase}|#{c.capitalize}|#{(c + 'aB').capitalize}"
      next if got[i] == want

      # Letters of Unicode 14 and 15 (Ruby 3.1 has 13), and Georgian
      # Mtavruli, which Ruby lowers when capitalizing: the `unicode` class.
      if DOCUMENTED.include?('unicode') && (!c.match?(/\p{Age=13.0}/) || (0x1C90..0x1CBF).cover?(c.ord))
        documented += 1
      else
        failures << format('U+%04X %s: ruby %s, brasa %s', c.ord, c.inspect, want.inspect, got[i].inspect)
      end
    end
  end
  [chars.size, documented, failures]
end

# The message lax Liquid prints for the error brasa reported: brasa says
# which integer is invalid and what could not be incremented, where Ruby
# says "invalid integer" and (for a NoMethodError) "internal".
def ruby_error(msg)
  msg = msg.sub(/\A\d+:\d+: /, '')
  msg = case msg
        when /\Ainvalid integer/ then 'invalid integer'
        when /\A(cannot (in|de)crement|tablerow option|a range bound)/ then 'internal'
        when 'NaN' then "Computation results in 'NaN' (Not a Number)"
        when /\A-?Infinity\z/ then "Computation results in '#{msg}'"
        else msg
        end
  "Liquid error: #{msg}"
end

# :agree, :errors (brasa failed where lax Liquid printed the same error and
# went on), a documented class, or :differ.
def verdict(c)
  b = c[:brasa]
  r = c[:ruby]
  # Outputs compare as bytes: base64_decode can make invalid UTF-8.
  return :agree if b.key?('out') && r.is_a?(String) && b['out'].b == r.b
  return :agree if b.key?('syntax') && r.is_a?(Array) && r[0] == :syntax # both refuse it
  return :errors if b.key?('error') && r.is_a?(String) && c[:errors].map(&:message).include?(ruby_error(b['error']))
  # Ruby's integers beyond 64 bits, which brasa has as floats: the outputs
  # agree once those numbers are set aside.
  if b.key?('out') && r.is_a?(String) && r.match?(/\d{19,}/) &&
     r.b.gsub(/-?\d{19,}/, '#') == b['out'].b.gsub(/-?(\d+\.\d+e\+\d+|Infinity)/, '#')
    return :bigint
  end

  :differ
end

unless File.executable?(opts[:bin])
  warn "liquid-diff: #{opts[:bin]} is not built"
  exit 1
end

started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
gen = Gen.new(opts[:seed])
srcs = []
tags = []
opts[:count].times do |k|
  srcs << gen.template(k)
  tags << gen.tags.uniq
end
undocumented = tags.flatten.uniq - DOCUMENTED.to_a
unless undocumented.empty?
  warn "liquid-diff: the generator tags #{undocumented.join(', ')}, which docs/liquid.md does not list"
  exit 1
end
cases = render_all(opts[:bin], srcs)
cases.each_with_index { |c, k| c[:k] = k; c[:tags] = tags[k]; c[:verdict] = verdict(c) }

# A difference in a template holding a documented construct is that
# construct's only if the template agrees once the construct is replaced
# by a plain one; otherwise something else differs too.
tagged = cases.select { |c| c[:verdict] == :differ && !c[:tags].empty? }
neutral = render_all(opts[:bin], tagged.map { |c| gen.template(c[:k], neutral: true) })
tagged.zip(neutral).each do |c, n|
  c[:neutral] = n
  c[:verdict] = c[:tags].first.to_sym if verdict(n) != :differ
end
undoc = cases.map { |c| c[:verdict] }.uniq - %i[agree differ] - DOCUMENTED.map(&:to_sym)
abort "liquid-diff: verdicts #{undoc.join(', ')} are not in docs/liquid.md" unless undoc.empty?

agreed = cases.count { |c| c[:verdict] == :agree }
documented = Hash.new(0)
shown = 0
cases.each do |c|
  next if %i[agree differ].include?(c[:verdict])

  documented[c[:verdict].to_s] += 1
  next unless shown < opts[:show]

  shown += 1
  puts "documented (#{c[:verdict]}): #{c[:src].inspect}\n  ruby:  #{c[:ruby].inspect}\n  brasa: #{c[:brasa].inspect}"
end
failures = cases.select { |c| c[:verdict] == :differ }
nchars, case_documented, case_failures = case_sweep(opts[:bin])
failures.first(opts[:all] ? failures.size : 30).each do |c|
  puts "UNDOCUMENTED DIFFERENCE (seed #{opts[:seed]}, template #{c[:k]})\n  template: #{c[:src].inspect}\n" \
       "  ruby:     #{c[:ruby].inspect}\n  brasa:    #{c[:brasa].inspect}"
  puts "  (ruby errors: #{c[:errors].map(&:message).join('; ')})" unless c[:errors].empty?
  puts "  (still differs without the documented #{c[:tags].join(', ')}: #{c[:neutral][:src].inspect})" if c[:neutral]
end
puts "  (#{failures.size - 30} more)" if failures.size > 30 && !opts[:all]
case_failures.first(opts[:all] ? case_failures.size : 30).each { |f| puts "UNDOCUMENTED CASE MAPPING #{f}" }
secs = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
by_class = documented.sort.map { |k, v| "#{k} #{v}" }.join(', ')
puts format('liquid-diff: %d templates (seed %d): %d agreed, %d documented differences%s, %d failures; ' \
            '%d characters through the case filters: %d agreed, %d documented (unicode), %d failures; ' \
            '%.1fs against Liquid %s',
            cases.size, opts[:seed], agreed, documented.values.sum, by_class.empty? ? '' : " (#{by_class})",
            failures.size, nchars, nchars - case_documented - case_failures.size, case_documented,
            case_failures.size, secs, Liquid::VERSION)
exit(failures.empty? && case_failures.empty? ? 0 : 1)
