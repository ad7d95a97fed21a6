# ruby.rb -- Ruby Liquid's render throughput, for bench/liquid.sh.
#
# Shopify's Liquid 5 (Debian's ruby-liquid) is the engine Braze's Liquid is
# built on. The template is parsed once in lax mode, as Braze runs it, and
# rendered in a loop against one user hash for SECONDS, as bench/liquid.c
# does with brasa's engine; the first rendering goes to OUT so the script
# can check the three engines wrote the same bytes before it trusts a
# time. Prints one line: `renders=N seconds=S version=V`.
# usage: ruby ruby.rb TEMPLATE CONTEXT SECONDS OUT
require 'json'
require 'liquid'

abort 'usage: ruby ruby.rb TEMPLATE CONTEXT SECONDS OUT' unless ARGV.size == 4
src, ctx_file, seconds, out_file = ARGV
template = Liquid::Template.parse(File.read(src), error_mode: :lax)
user = JSON.parse(File.read(ctx_file))
out = template.render(user)
abort "ruby-liquid: #{template.errors.map(&:message).join('; ')}" unless template.errors.empty?
File.write(out_file, out)

clock = -> { Process.clock_gettime(Process::CLOCK_MONOTONIC) }
renders = 0
t0 = clock.call
deadline = t0 + seconds.to_f
now = t0
while now < deadline
  100.times { template.render(user) }
  renders += 100
  now = clock.call
end
puts "renders=#{renders} seconds=#{now - t0} version=#{Liquid::VERSION}"
