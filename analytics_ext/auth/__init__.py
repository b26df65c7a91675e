"""Who the caller is (identity), what they may do (authorizer), and the secrets both rely on."""
