"""Forms of the merchant portal (Flask-WTF): checkout at the counter and the back office."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from rewards.forms_once import OnceForm
from rewards.services.accounts import MIN_PASSWORD_LENGTH

# Long enough for a signed phone token with room to spare; a scanner never types more.
MAX_CODE_LENGTH = 400


class CheckoutForm(FlaskForm):
    """The counter form (结算): the scanned or typed card code and the bill in yuan."""

    code = StringField(_l("会员卡码"), validators=[Length(max=MAX_CODE_LENGTH)])
    amount = StringField(_l("消费金额（元）"), validators=[Length(max=20)])


class ConfirmForm(CheckoutForm):
    """Confirm a previewed sale; the idempotency key was minted when the preview was shown."""

    idempotency_key = HiddenField(validators=[DataRequired(), Length(min=8, max=80)])


class VoidForm(FlaskForm):
    """Void a sale (撤销) with a reason."""

    reason = StringField(
        _l("撤销原因"),
        validators=[
            DataRequired(_l("请填写撤销原因。")),
            Length(min=2, max=200, message=_l("撤销原因需要 2 到 200 个字。")),
        ],
    )


class CashierForm(OnceForm):
    """Add a cashier account (添加收银员)."""

    username = StringField(
        _l("登录用户名"),
        validators=[DataRequired(_l("请填写登录用户名。")), Length(min=3, max=40)],
        description=_l("3 到 40 位字母、数字、下划线、点或横线"),
    )
    display_name = StringField(
        _l("姓名"), validators=[DataRequired(_l("请填写姓名。")), Length(max=60)]
    )
    password = PasswordField(
        _l("初始密码"),
        validators=[
            DataRequired(_l("请设置初始密码。")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=200,
                message=_l("密码至少 %(n)s 位。", n=MIN_PASSWORD_LENGTH),
            ),
        ],
    )


class ApiKeyForm(OnceForm):
    """Create a POS API key (创建密钥) with a label saying which till uses it."""

    label = StringField(
        _l("密钥名称"),
        validators=[DataRequired(_l("请给密钥起个名字。")), Length(max=60)],
        description=_l("例如：1号收银台"),
    )


class DateRangeForm(FlaskForm):
    """A ``from``/``to`` filter read from the query string (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    start = DateField(_l("开始日期"), validators=[Optional()], name="from")
    end = DateField(_l("结束日期"), validators=[Optional()], name="to")
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=100_000)])

    def validate_end(self, field: DateField) -> None:
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError(_l("结束日期不能早于开始日期。"))

    def dates_or(self, default_start: date, default_end: date) -> tuple[date, date]:
        """The chosen range, with the defaults for what was left blank or invalid."""
        if self.errors:
            return default_start, default_end
        return self.start.data or default_start, self.end.data or default_end
