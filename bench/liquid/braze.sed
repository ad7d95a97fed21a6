# braze.sed -- Braze's ${...} attribute tags as plain Liquid lookups, so
# that Ruby Liquid and LiquidJS can render bench/liquid/email.liquid
# against the same user object brasa reads (sed -E -f braze.sed).
# The table is docs/liquid.md's "Braze attributes": custom_attribute.${x}
# reads custom_attributes.x, event_properties.${x} (and the other objects)
# reads that object's x, and a handful of root names are renamed. A name
# must start with a letter, so a price like ${{ p.price }} is left alone.
s/custom_attribute\.\$\{([A-Za-z_][A-Za-z0-9_]*)\}/custom_attributes.\1/g
s/(event_properties|api_trigger_properties|canvas_entry_properties|campaign|canvas|message_variation)\.\$\{([A-Za-z_][A-Za-z0-9_]*)\}/\1.\2/g
s/\$\{email_address\}/email/g
s/\$\{user_id\}/external_id/g
s/\$\{city\}/home_city/g
s/\$\{date_of_birth\}/dob/g
s/\$\{phone_number\}/phone/g
s/\$\{random_bucket_number\}/random_bucket/g
s/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/\1/g
