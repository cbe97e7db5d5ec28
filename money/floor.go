package money

// Floor returns d rounded toward negative infinity to at most places
// digits after the point: Floor(0) of 12.34 is 12, of -12.34 is -13.
// If d already has places digits or fewer it is returned unchanged.
func (d Decimal) Floor(places uint8) Decimal {
	if d.scale <= places {
		return d
	}
	div := int64(pow10[d.scale-places]) // scale <= MaxScale: fits an int64
	q := d.coef / div                   // truncates toward zero
	if d.coef%div != 0 && d.coef < 0 {
		q--
	}
	return Decimal{coef: q, scale: places}
}

// Min returns the smaller of d and x (d when they are equal).
func Min(d, x Decimal) Decimal {
	if x.Cmp(d) < 0 {
		return x
	}
	return d
}

// Max returns the larger of d and x (d when they are equal).
func Max(d, x Decimal) Decimal {
	if x.Cmp(d) > 0 {
		return x
	}
	return d
}

// Coef returns the coefficient of d = Coef / 10^Scale, so that a caller
// storing many decimals can pack them (New(d.Coef(), d.Scale()) == d).
func (d Decimal) Coef() int64 { return d.coef }
