# Checks of segwork's TimeVaryingParetoNBD against CLVTools 0.12.1's own code, on the apparel data (issue 20).
# Needs the fitted object of benchmarks/clvtools_apparel_dynamic.R (fd.rds; path as its first argument, default
# /tmp/peers/fd.rds). Run, with CLVTools installed:
#   R_LIBS=/path/to/lib Rscript benchmarks/clvtools_apparel_dynamic_checks.R /tmp/peers/fd.rds
# Prints (tests/clv/test_pareto_nbd_dynamic.py holds the numbers):
#  1. CLVTools' log-likelihood (pnbd_dyncov_LL_negsum) at its estimates and at 4 seeded nearby points;
#  2. the standard errors from numDeriv::hessian of that log-likelihood at the estimates (what the observed
#     information gives), next to the Hessian CLVTools stored from optimx;
#  3. predict() at continuous.discount.factor 1e-6, 0.01, 0.1 (its default is log(1.1));
#  4. the log-likelihood at the estimates on shifted data: each customer's dates moved by (Id mod 7) days, so
#     first purchases fall inside a week, and the estimation split on a Wednesday (2006-12-27).
suppressMessages(library(CLVTools)); suppressMessages(library(data.table))
args <- commandArgs(trailingOnly = TRUE)
fd <- readRDS(if (length(args)) args[1] else "/tmp/peers/fd.rds")
p0 <- c(log(1.9777409872), log(115.1779143952), log(2.0127328598), log(158.1817952293), -2.4826722299,
        -0.5124721776, 0.5057316202, 0.7182712610, 0.2649019376, 0.6137395101)
ll.of <- function(fitted) {
  a0 <- CLVTools:::pnbd_dyncov_getLLcallargs_LLsum(fitted)
  function(p) { a <- a0; a$params <- p; -do.call(CLVTools:::pnbd_dyncov_LL_negsum, a) }
}
ll <- ll.of(fd)
cat("LL at estimates", sprintf("%.10f", ll(p0)), "\n")
set.seed(1)
for (k in 1:4) {
  d <- rnorm(10) * 0.05
  cat("LL at estimates + step", paste(sprintf("%.17g", d), collapse = ","), ":", sprintf("%.10f", ll(p0 + d)), "\n")
}
t0 <- Sys.time(); H <- numDeriv::hessian(ll, p0)
cat("numDeriv hessian", format(Sys.time() - t0), "\n")
cat("SE (log r, log alpha, log s, log beta, life x3, trans x3):",
    paste(sprintf("%.8f", sqrt(diag(solve(-H)))), collapse = ", "), "\n")
print(fd@optimx.hessian)
for (d in c(1e-6, 0.01, 0.1)) {
  p <- predict(fd, verbose = FALSE, continuous.discount.factor = d)
  cat("predict continuous.discount.factor", d, "\n"); print(head(p[, c("Id", "PAlive", "CET", "DECT")], 3))
}
data("apparelTrans"); data("apparelDynCov")
tr <- copy(apparelTrans); tr[, Date := as.Date(Date) + (as.integer(Id) %% 7)]
cd <- clvdata(tr, date.format = "ymd", time.unit = "week", estimation.split = "2006-12-27", name.id = "Id",
              name.date = "Date", name.price = "Price")
cdd <- SetDynamicCovariates(clv.data = cd, data.cov.life = apparelDynCov, data.cov.trans = apparelDynCov,
                            names.cov.life = c("High.Season", "Gender", "Channel"),
                            names.cov.trans = c("High.Season", "Gender", "Channel"), name.id = "Id",
                            name.date = "Cov.Date")
# a quick fit only to build CLVTools' walks (as its tests' fct.helper.dyncov.quickfit); the LL is then evaluated at p0
quick <- suppressWarnings(pnbd(cdd, verbose = FALSE, optimx.args = list(method = "Nelder-Mead", itnmax = 10,
                               hessian = FALSE, control = list(reltol = 1000, kkt = FALSE))))
cat("SHIFTED LL at estimates", sprintf("%.10f", ll.of(quick)(p0)), "\n")
print(head(quick@cbs))
