from rewards.services import checkout, ledger


def test_gold_card_checkout_end_to_end(world, session, tokens):
    actor = world.actor(world.cashier)
    token, _ = tokens.phone_token(world.gold_card)
    quote = checkout.preview(session, actor, tokens, token, "128.50")
    assert (quote.amount_fen, quote.discount_fen, quote.payable_fen) == (12850, 1542, 11308)
    r, created = checkout.confirm(session, actor, tokens, token, "128.50", "key-00000001")
    session.commit()
    assert created and r.discount_fen == 1542
    assert ledger.verify_chain(session).ok
