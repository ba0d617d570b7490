"""Region from country (and state) where a row has none, by the rules in `region_rules`."""

JOIN = ("LEFT JOIN region_rules __rs ON __rs.country = t.country AND __rs.state = t.state "
        "LEFT JOIN region_rules __rc ON __rc.country = t.country AND __rc.state = ''")
REGION_EXPR = "coalesce(t.region, __rs.region, __rc.region)"
