/*
 * A stand-in for Stripe.js v3, served by tests/fakes/localstripe_server.py at /standin/v3/: the part of its API
 * that the payment page uses, so that browser tests pay against localstripe.
 *
 * - Stripe(publishableKey).elements({clientSecret, locale, appearance}).create("payment").mount(selector) renders
 *   labelled card number, expiry and CVC inputs in the mount point (no iframe, so tests can type into them).
 * - confirmPayment({elements, confirmParams: {return_url}, redirect}) posts the card to
 *   /v1/payment_intents/{id}/confirm on the server this script came from, with the publishable key and client
 *   secret, as Stripe.js does. As Stripe.js does, an error (a declined card) resolves {error: {message}} and stays on
 *   the page; otherwise it goes to return_url with payment_intent, payment_intent_client_secret and
 *   redirect_status (succeeded, processing or failed), or, with redirect: "if_required", resolves {paymentIntent}.
 */
(function () {
  "use strict";

  var origin = new URL(document.currentScript.src).origin;
  var LABELS = {
    en: { number: "Card number", expiry: "Expiration date (MM / YY)", cvc: "Security code (CVC)" },
    ja: { number: "カード番号", expiry: "有効期限 (MM / YY)", cvc: "セキュリティコード (CVC)" },
  };

  function labelsFor(locale) {
    var language = String(locale || navigator.language || "en").toLowerCase().split("-")[0];
    return LABELS[language] || LABELS.en;
  }

  function field(container, id, text, autocomplete, placeholder) {
    var label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = text;
    var input = document.createElement("input");
    input.id = id;
    input.name = id;
    input.autocomplete = autocomplete;
    input.inputMode = "numeric";
    input.placeholder = placeholder;
    container.appendChild(label);
    container.appendChild(input);
    return input;
  }

  function PaymentElement(elements) {
    this._elements = elements;
    this._inputs = null;
  }

  PaymentElement.prototype.mount = function (target) {
    var node = typeof target === "string" ? document.querySelector(target) : target;
    if (!node) {
      throw new Error("Stripe stand-in: no element matches " + target);
    }
    var labels = labelsFor(this._elements._locale);
    var container = document.createElement("div");
    container.className = "standin-payment-element";
    this._inputs = {
      number: field(container, "standin-card-number", labels.number, "cc-number", "1234 1234 1234 1234"),
      expiry: field(container, "standin-card-expiry", labels.expiry, "cc-exp", "MM / YY"),
      cvc: field(container, "standin-card-cvc", labels.cvc, "cc-csc", "CVC"),
    };
    node.replaceChildren(container);
  };

  PaymentElement.prototype.unmount = function () {
    this._inputs = null;
  };

  PaymentElement.prototype.on = function () {
    return this;
  };

  function Elements(options) {
    this._clientSecret = options.clientSecret;
    this._locale = options.locale;
    this._payment = null;
  }

  Elements.prototype.create = function (type) {
    if (type !== "payment") {
      throw new Error("Stripe stand-in: only the payment element is supported, not " + type);
    }
    this._payment = new PaymentElement(this);
    return this._payment;
  };

  Elements.prototype.submit = function () {
    return Promise.resolve({});
  };

  function cardParameters(inputs) {
    var expiry = inputs.expiry.value.replace(/\s/g, "").split("/");
    return {
      "payment_method_data[type]": "card",
      "payment_method_data[card][number]": inputs.number.value.replace(/\s/g, ""),
      "payment_method_data[card][exp_month]": expiry[0] || "",
      "payment_method_data[card][exp_year]": expiry[1] || "",
      "payment_method_data[card][cvc]": inputs.cvc.value.trim(),
    };
  }

  function errorOf(body, fallback) {
    var error = (body && body.error) || {};
    return { error: { type: error.type || "card_error", code: error.code, message: error.message || fallback } };
  }

  function Stripe(publishableKey) {
    if (!(this instanceof Stripe)) {
      return new Stripe(publishableKey);
    }
    this._key = publishableKey;
  }

  Stripe.prototype.elements = function (options) {
    return new Elements(options || {});
  };

  Stripe.prototype.confirmPayment = function (options) {
    var elements = options.elements;
    var payment = elements && elements._payment;
    if (!payment || !payment._inputs) {
      return Promise.resolve({ error: { type: "validation_error", message: "The payment element is not mounted." } });
    }
    var clientSecret = elements._clientSecret;
    var intentId = clientSecret.split("_secret_")[0];
    var returnUrl = (options.confirmParams || {}).return_url;
    var parameters = cardParameters(payment._inputs);
    parameters.key = this._key;
    parameters.client_secret = clientSecret;
    return fetch(origin + "/v1/payment_intents/" + encodeURIComponent(intentId) + "/confirm", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(parameters).toString(),
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(function (answer) {
        if (!answer.ok) {
          return errorOf(answer.body, "Your card could not be charged.");
        }
        var intent = answer.body;
        if (intent.status === "requires_action") {
          return errorOf(null, "This card asks for 3D Secure, which the Stripe stand-in does not do.");
        }
        if (options.redirect === "if_required") {
          return { paymentIntent: intent };
        }
        var status = intent.status === "succeeded" || intent.status === "processing" ? intent.status : "failed";
        var target = new URL(returnUrl, window.location.href);
        target.searchParams.set("payment_intent", intent.id);
        target.searchParams.set("payment_intent_client_secret", clientSecret);
        target.searchParams.set("redirect_status", status);
        window.location.assign(target.toString());
        return new Promise(function () {});
      }, function () {
        return errorOf(null, "The Stripe stand-in could not be reached.");
      });
  };

  window.Stripe = Stripe;
})();
