# crosscheck.rb -- runs the golden corpus through Shopify's Liquid (Ruby).
#
# A maintainer's tool, not part of `make test`: with Debian's ruby and
# ruby-liquid installed (apt-get install ruby-liquid), `ruby
# tests/liquid/crosscheck.rb` renders every case that plain Liquid can run
# (Braze's ${...} tags are translated to plain lookups; Braze-only tags and
# filters are skipped) and reports expectations that disagree with the
# reference implementation, apart from the deliberate differences listed
# in KNOWN (see docs/liquid.md). Exit status 1 on an unexpected difference.
require 'liquid'
require 'json'

ENV['TZ'] = 'UTC'
class Time
  class << self
    def now = Time.at(1628100793) # the corpus's "now": 2021-08-04T18:13:13Z
  end
end

DIR = File.dirname(__FILE__)
KNOWN = [
  'first_name blank check when blank', 'nil is blank', 'whitespace is blank', 'false is blank', # ActiveSupport's blank?, as Braze
  'huge epoch is not a date',            # dates past 10^15 s are not dates here
  'base64',                              # Braze's alias of base64_encode
  'comment',                             # comment bodies are not parsed here
  'raw keeps its inside whitespace',     # {%- raw -%} works here
  'capitalize keeps a Georgian Mtavruli capital, as Unicode titlecases it (Ruby 3.1 lowers it)', # unicode
  'letters of Unicode 14 and 15 change case (Ruby 3.1 knows Unicode 13)',                        # unicode
  'a string of digits beyond 128 bits is the nearest float',                                     # bigint
  "decoded bytes do not stop later non-ASCII text (Ruby's binary string does)",                  # binary
].freeze
ROOTS = { 'email_address' => 'email', 'user_id' => 'external_id', 'city' => 'home_city',
          'date_of_birth' => 'dob', 'phone_number' => 'phone', 'random_bucket_number' => 'random_bucket' }.freeze
NS = %w[event_properties api_trigger_properties canvas_entry_properties campaign canvas message_variation
        most_recently_used_device].freeze
SKIP = /connected_content|abort_message|content_blocks|time_zone|money|json_escape|url_escape|url_param_escape|
        property_accessor|number_with_delimiter|md5|sha1|sha2|sha256|hmac|\|\s*json|&&|\|\||index:|\bfind\b|
        find_index|\bhas\b|reject|\bsum\b|922337203685|1\.\.5000|1\.\.1000\)|subscribed_state|
        \{%[^%]*\{\{|\{\{[^}]*\{\{|first_name\s=|-9223/x

def translate(t)
  t = t.gsub(/custom_attribute\.\$\{([^}]*)\}/) { "custom_attributes[\"#{Regexp.last_match(1).strip}\"]" }
  t = t.gsub('custom_attribute.', 'custom_attributes.')
  NS.each { |ns| t = t.gsub(/#{ns}\.\$\{([^}]*)\}/) { "#{ns}[\"#{Regexp.last_match(1).strip}\"]" } }
  t.gsub(/\$\{([^}]*)\}/) { ROOTS[Regexp.last_match(1).strip] || Regexp.last_match(1).strip }
end

user = JSON.parse(File.read(File.join(DIR, 'user.json')))
checked = differ = 0
Dir[File.join(DIR, '*.json')].sort.each do |f|
  next if f.end_with?('user.json')
  JSON.parse(File.read(f)).each do |c|
    t = c['template']
    next unless c.key?('expected')
    next if t =~ SKIP || %w[fetch blocks max_output max_steps max_memory now].any? { |k| c.key?(k) }
    checked += 1
    begin
      tpl = Liquid::Template.parse(translate(t), error_mode: :lax)
      out = tpl.render(Marshal.load(Marshal.dump(c['context'] || user)))
    rescue StandardError => e
      out = "(raised #{e.message})"
    end
    next if out == c['expected'] || KNOWN.include?(c['name'])
    differ += 1
    puts "#{File.basename(f)}: #{c['name']}\n  template: #{t.inspect}\n  expected: #{c['expected'].inspect}\n  liquid:   #{out.inspect}"
  end
end
puts "crosscheck: #{checked} cases against Liquid #{Liquid::VERSION}, #{differ} unexpected differences"
exit(differ.zero? ? 0 : 1)
